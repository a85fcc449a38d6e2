//! Amazon SES kinds, and the identity reading and waiting that domain and email identities share.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{code, AwsResult, Error};
use crate::kind::Cx;

pub mod account;
pub mod configuration_set;
pub mod dmarc;
pub mod domain_identity;
pub mod email_identity;
pub mod feedback;
pub mod receiving;
pub mod smtp_credentials;

/// What SES v2 reports about an identity (domain or email address).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Identity {
    /// `PENDING`, `SUCCESS`, `FAILED`, `TEMPORARY_FAILURE` or `NOT_STARTED`.
    pub verification_status: String,
    /// Whether mail may be sent from it (an address under a verified domain inherits this).
    pub verified_for_sending: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dkim_status: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dkim_tokens: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dkim_key_length: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_from_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_from_mx_failure: Option<String>,
    /// The identity's default configuration set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration_set: Option<String>,
    /// Notification topics, headers and forwarding (SES v1), read only when the spec manages them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback: Option<feedback::Observed>,
    /// What waiting for the verification found out, for the state's comment (not read from AWS).
    #[serde(skip)]
    pub note: Option<String>,
}

/// Reads an identity with `GetEmailIdentity`; `None` when SES does not have it.
pub async fn read_identity(cx: &Cx<'_>, identity: &str) -> Result<Option<Identity>, Error> {
    let Some(out) = cx
        .sesv2()
        .get_email_identity()
        .email_identity(identity)
        .send()
        .await
        .none_if("GetEmailIdentity", &[code::NOT_FOUND])?
    else {
        return Ok(None);
    };
    let dkim = out.dkim_attributes();
    let mail_from = out.mail_from_attributes().filter(|m| !m.mail_from_domain().is_empty());
    Ok(Some(Identity {
        verification_status: out
            .verification_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "PENDING".into()),
        verified_for_sending: out.verified_for_sending_status(),
        dkim_status: dkim.and_then(|d| d.status()).map(|s| s.as_str().to_string()),
        dkim_tokens: dkim.map(|d| d.tokens().to_vec()).unwrap_or_default(),
        dkim_key_length: dkim
            .and_then(|d| d.next_signing_key_length().or(d.current_signing_key_length()))
            .map(|k| k.as_str().to_string()),
        mail_from: mail_from.map(|m| m.mail_from_domain().to_string()),
        mail_from_status: mail_from.map(|m| m.mail_from_domain_status().as_str().to_string()),
        mail_from_mx_failure: mail_from.map(|m| m.behavior_on_mx_failure().as_str().to_string()),
        configuration_set: out.configuration_set_name().map(str::to_string),
        feedback: None,
        note: None,
    }))
}

/// The identities of one type (domains or addresses) in `cx`'s region, from every page.
pub async fn list_identities(cx: &Cx<'_>, kind: aws_sdk_sesv2::types::IdentityType) -> Result<Vec<String>, Error> {
    let pages: Vec<_> =
        cx.sesv2().list_email_identities().into_paginator().send().try_collect().await.op("ListEmailIdentities")?;
    let mut names: Vec<String> = pages
        .iter()
        .flat_map(|p| p.email_identities())
        .filter(|i| i.identity_type() == Some(&kind))
        .filter_map(|i| i.identity_name().map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

/// Deletes an identity.
pub async fn delete_identity(cx: &Cx<'_>, identity: &str) -> Result<(), Error> {
    cx.sesv2()
        .delete_email_identity()
        .email_identity(identity)
        .send()
        .await
        .none_if("DeleteEmailIdentity", &[code::NOT_FOUND])?;
    Ok(())
}

/// Polls `read` until `pending` says nothing is pending, up to `limit`, printing progress on stderr.
/// `pending` lists what is still pending (e.g. `verification PENDING`), or returns `Err` for a
/// state that will not resolve by waiting (e.g. `FAILED`).
pub async fn wait_for<T, R, P>(what: &str, limit: Duration, mut read: R, pending: P) -> Result<T, Error>
where
    R: AsyncFnMut() -> Result<T, Error>,
    P: Fn(&T) -> Result<Vec<String>, Error>,
{
    let start = Instant::now();
    let mut pause = Duration::from_secs(1);
    loop {
        let now = read().await?;
        let waiting = pending(&now)?;
        if waiting.is_empty() {
            if start.elapsed() >= Duration::from_secs(1) {
                eprintln!("ocp-aws: {what}: done after {}s.", start.elapsed().as_secs());
            }
            return Ok(now);
        }
        let elapsed = start.elapsed();
        if elapsed >= limit {
            return Err(Error::Timeout(format!(
                "waiting for {what} timed out after {}s; still pending: {}",
                limit.as_secs(),
                waiting.join(", ")
            )));
        }
        eprintln!(
            "ocp-aws: {what}: waiting for {} ({}s of {}s).",
            waiting.join(", "),
            elapsed.as_secs(),
            limit.as_secs()
        );
        tokio::time::sleep(pause.min(limit - elapsed)).await;
        pause = (pause * 2).min(Duration::from_secs(30));
    }
}
