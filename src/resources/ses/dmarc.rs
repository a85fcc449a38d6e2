//! `ses dmarc-check` (runbook row 12, "Check DMARC compliance"): sends a short message through SES
//! to an address whose mail SES receives, reads it back from S3 with the receiving machinery of
//! `receiving.rs` (same clean-up guarantees), and reports what its authentication headers say,
//! with the `_dmarc` policy the From domain publishes.

use std::fmt;
use std::time::Duration;

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use serde::Serialize;

use crate::dns;
use crate::error::{AwsResult, Error};
use crate::kind::Cx;
use crate::mail::{self, Authentication};
use crate::resources::ses::receiving::{self, Journal, Setup};

/// The key prefix the check's messages are stored under when none is given.
pub const DEFAULT_PREFIX: &str = "dmarc-check/";
/// How long to wait for the message to arrive in the bucket.
const RECEIVE_WAIT: Duration = Duration::from_secs(300);

/// What the check found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub from: String,
    pub to: String,
    pub region: String,
    /// The delivered message's SPF, DKIM and DMARC results.
    pub authentication: Authentication,
    /// The `v=DMARC1` record published at `_dmarc.FROM-DOMAIN`, if there is one.
    pub dmarc_record: Option<String>,
    /// DMARC passes through a DKIM signature aligned with the From domain.
    pub passes: bool,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Sent from {} to {} through SES in {}.", self.from, self.to, self.region)?;
        write!(f, "{}", self.authentication)?;
        match &self.dmarc_record {
            Some(r) => writeln!(f, "Published DMARC policy: {r}")?,
            None => writeln!(f, "Published DMARC policy: none (no single v=DMARC1 record at _dmarc)")?,
        }
        match self.passes {
            true => writeln!(f, "DMARC passes through an aligned DKIM signature."),
            false => writeln!(f, "DMARC does not pass through an aligned DKIM signature: check the domain's DKIM records (`ocp-aws dns check`)."),
        }
    }
}

/// Sends a test message from `from` to `to` and reports its authentication as received.
pub async fn check(cx: &Cx<'_>, from: &str, to: &str, setup: &Setup) -> Result<Report, Error> {
    if let Some(why) = receiving::not_receivable(cx, to).await? {
        let region = cx.region();
        let domain = to.rsplit_once('@').map(|(_, d)| d).unwrap_or(to);
        return Err(Error::Refused(format!(
            "mail to {to} cannot be received through SES: {why}. To check DMARC, send to an address whose domain \
             receives mail with SES: an MX record `{domain} MX 10 {}` (`ocp-aws dns records {domain} --receiving`) \
             in a region where SES receives mail",
            receiving::inbound_mx(region)
        )));
    }
    let mut journal = Journal::default();
    let raw = receiving::with_clean_up(cx, setup, &mut journal, async |journal: &mut Journal| {
        receiving::set_up(cx, setup, to, journal).await?;
        send(cx, from, to).await?;
        receiving::receive(cx, setup, journal, RECEIVE_WAIT).await
    })
    .await?;
    let authentication = mail::authentication(&raw);
    let from_domain = from.rsplit_once('@').map(|(_, d)| d).unwrap_or(from);
    let resolver = dns::resolver_for(cx.nameservers())?;
    // The policy is information; a resolver that cannot answer does not void the message's verdict.
    let dmarc_record = dns::dmarc_record(&resolver, from_domain).await.ok().flatten();
    Ok(Report {
        from: from.to_string(),
        to: to.to_string(),
        region: cx.region().to_string(),
        passes: authentication.passes_through_aligned_dkim(),
        authentication,
        dmarc_record,
    })
}

/// Sends the test message with SES v2 `SendEmail`.
async fn send(cx: &Cx<'_>, from: &str, to: &str) -> Result<(), Error> {
    let content = |text: &str| Content::builder().data(text).charset("UTF-8").build();
    let subject = content("ocp-aws DMARC check").map_err(|e| Error::Internal(e.to_string()))?;
    let text = content("A test message sent by `ocp-aws ses dmarc-check` to read its authentication results.")
        .map_err(|e| Error::Internal(e.to_string()))?;
    let message = Message::builder().subject(subject).body(Body::builder().text(text).build()).build();
    cx.sesv2()
        .send_email()
        .from_email_address(from)
        .destination(Destination::builder().to_addresses(to).build())
        .content(EmailContent::builder().simple(message).build())
        .send()
        .await
        .op("SendEmail")?;
    Ok(())
}
