//! `ses.email_identity`: an email-address identity and its verification status (runbook row 5).
//! SES sends the address a verification mail; until its link is opened the identity is pending.
//! With `verify_via_s3` the tool opens it itself when the address's domain receives mail with SES
//! (runbook row 6): it receives the mail in S3 for a moment, follows the link, and puts the
//! account's receiving setup back as it was (`receiving.rs`).

use std::time::{Duration, Instant};

use aws_sdk_sesv2::types::IdentityType;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::common_spec;
use crate::error::{code, AwsResult, Error, Invalid};
use crate::kind::{Cx, Diff, Ensure, Exported, Kind, Listed, Ref};
use crate::mail;
use crate::resources::ses::feedback::{self, Feedback};
use crate::resources::ses::receiving::{self, Journal, Setup};
use crate::resources::ses::{delete_identity, list_identities, read_identity, wait_for, Identity};
use crate::validate;

pub struct EmailIdentity;

// ---- spec ----------------------------------------------------------------------------------

/// An SES email-address identity. The Pillar key is the address, e.g. `noreply@open-contracting.org`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub ensure: Ensure,
    /// SES region of the identity (default: the Pillar's `region`).
    #[serde(default)]
    pub region: Option<String>,
    /// Where SES sends bounce, complaint and delivery notifications, with or without the original
    /// headers, and whether it also mails them to the sender. Left out: not managed.
    #[serde(default)]
    pub feedback: Option<Feedback>,
    /// The identity's default configuration set: an `ses.configuration_sets` entry of this Pillar.
    /// Left out: not managed.
    #[serde(default)]
    pub configuration_set: Option<String>,
    /// Wait up to this long (e.g. `10m`) until SES has verified the address, showing progress on
    /// stderr; with `verify_via_s3` it bounds the whole verification. Left out: do not wait (a
    /// verification through S3 then gets up to 10 minutes).
    #[serde(default)]
    pub wait: Option<String>,
    /// Verify the address by receiving SES's verification mail in S3 and opening its link, when
    /// the address's domain has its MX at `inbound-smtp.REGION.amazonaws.com` and the region
    /// receives mail. Left out: the link is left for a person to open.
    #[serde(default)]
    pub verify_via_s3: Option<VerifyViaS3>,
}
common_spec!(Spec);

/// Where the verification mail is received, and which link hosts may be followed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyViaS3 {
    /// The bucket SES stores the mail in (default `ocp-aws-verification`): an `s3.buckets` entry
    /// of this Pillar is used as it is; a bucket that does not exist is created, its objects
    /// expiring after a day.
    #[serde(default)]
    pub bucket: Option<String>,
    /// Key prefix of the stored mail (default `verification/`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// The receipt rule set created and activated when none is active (default
    /// `email-address-verification`).
    #[serde(default)]
    pub rule_set: Option<String>,
    /// The receipt rule's name (default `deliver-to-s3-bucket`); when another rule set is active,
    /// the rule goes first in that set for the time of the verification.
    #[serde(default)]
    pub rule: Option<String>,
    /// Keep the own rule set and its rule (inactive) afterwards. Default: remove them.
    #[serde(default)]
    pub keep_rule_set: bool,
    /// The hosts (`HOST[:PORT]`) a verification link may point to (default:
    /// `email-verification.REGION.amazonaws.com`); `http://` only for a loopback host named here.
    #[serde(default)]
    pub link_hosts: Option<Vec<String>>,
}

/// The key prefix used when `verify_via_s3` names none.
pub const DEFAULT_PREFIX: &str = "verification/";
/// How long a verification through S3 may take when the entry sets no `wait`.
const DEFAULT_VERIFY_WAIT: Duration = Duration::from_secs(600);

impl VerifyViaS3 {
    /// The receiving setup with the defaults filled in.
    pub fn setup(&self) -> Setup {
        Setup {
            bucket: self.bucket.clone().unwrap_or_else(|| receiving::DEFAULT_BUCKET.into()),
            prefix: self.prefix.clone().unwrap_or_else(|| DEFAULT_PREFIX.into()),
            rule_set: self.rule_set.clone().unwrap_or_else(|| receiving::DEFAULT_RULE_SET.into()),
            rule: self.rule.clone().unwrap_or_else(|| receiving::DEFAULT_RULE.into()),
            keep_rule_set: self.keep_rule_set,
        }
    }

    /// The hosts a link may point to in `region`.
    fn link_hosts(&self, region: &str) -> Vec<String> {
        self.link_hosts.clone().unwrap_or_else(|| vec![format!("email-verification.{region}.amazonaws.com")])
    }
}

// ---- read ----------------------------------------------------------------------------------

impl Kind for EmailIdentity {
    const KIND: &'static str = "ses.email_identity";
    const NOUN: &'static str = "SES email identity";
    const REFERS_TO: &'static [&'static str] = &[crate::resources::sns::TOPIC, "ses.configuration_set"];
    type Spec = Spec;
    type Observed = Identity;

    fn check(name: &str, spec: &Spec, path: &str, errors: &mut Vec<Invalid>) {
        validate::email(name, path, errors);
        if let Some(f) = &spec.feedback {
            feedback::check(f, &format!("{path}.feedback"), errors);
        }
        if let Some(w) = &spec.wait {
            if let Err(e) = validate::duration(w) {
                errors.push(Invalid::new(format!("{path}.wait"), e));
            }
        }
        if let Some(v) = &spec.verify_via_s3 {
            check_verify(v, &format!("{path}.verify_via_s3"), errors);
        }
    }

    fn refs(spec: &Spec) -> Vec<Ref> {
        let mut refs = spec.feedback.as_ref().map(feedback::refs).unwrap_or_default();
        refs.extend(feedback::configuration_set_ref(spec.configuration_set.as_ref()));
        refs
    }

    fn manage_all(spec: &mut Spec) {
        spec.feedback.get_or_insert_with(Feedback::default);
    }

    fn uses(spec: &Spec) -> Vec<Ref> {
        let bucket = spec.verify_via_s3.as_ref().map(|v| v.setup().bucket);
        bucket.map(|name| Ref { kind: "s3.bucket", name, field: "verify_via_s3.bucket".into() }).into_iter().collect()
    }

    async fn read(cx: &Cx<'_>, name: &str, spec: &Spec) -> Result<Option<Identity>, Error> {
        let Some(mut identity) = read_identity(cx, name).await? else { return Ok(None) };
        feedback::read_into(cx, name, spec.feedback.as_ref(), &mut identity).await?;
        Ok(Some(identity))
    }

    // ---- diff ----------------------------------------------------------------------------------

    fn diff(name: &str, spec: &Spec, observed: Option<&Identity>) -> Diff {
        let mut d = if observed.is_some() { Diff::default() } else { Diff::creating() };
        feedback::diff_identity(&mut d, spec.feedback.as_ref(), spec.configuration_set.as_ref(), observed);
        if let Some(o) = observed {
            d.notes.push(status(name, o));
            d.notes.extend(o.note.clone());
        }
        if spec.verify_via_s3.is_some() && observed.is_none_or(|o| o.verification_status != "SUCCESS") {
            let s = spec.verify_via_s3.clone().unwrap_or_default().setup();
            d.notes.push(format!(
                "When the MX of its domain is SES's, the verification mail is received in s3://{}/{} and its link \
                 opened, then the receiving setup is put back as it was.",
                s.bucket, s.prefix
            ));
        }
        d
    }

    // ---- apply ---------------------------------------------------------------------------------

    async fn apply(
        cx: &Cx<'_>,
        name: &str,
        spec: &Spec,
        observed: Option<&Identity>,
        diff: &mut Diff,
    ) -> Result<(), Error> {
        if observed.is_none() {
            cx.sesv2()
                .create_email_identity()
                .email_identity(name)
                .send()
                .await
                .none_if("CreateEmailIdentity", &[code::ALREADY_EXISTS])?;
        }
        feedback::apply_identity(cx, name, spec.feedback.as_ref(), spec.configuration_set.as_ref(), observed, diff)
            .await
    }

    async fn settle(cx: &Cx<'_>, name: &str, spec: &Spec, observed: &Identity) -> Result<Option<Identity>, Error> {
        if observed.verification_status == "SUCCESS" {
            return Ok(None);
        }
        let limit = spec.wait.as_deref().and_then(|w| validate::duration(w).ok());
        let Some(verify) = &spec.verify_via_s3 else {
            return match limit {
                Some(limit) => wait_verified(cx, name, limit).await.map(Some),
                None => Ok(None),
            };
        };
        if let Some(why) = receiving::not_receivable(cx, name).await? {
            if let Some(limit) = limit {
                return wait_verified(cx, name, limit)
                    .await
                    .map(Some)
                    .map_err(|e| Error::Timeout(format!("{e} ({why}; check the mailbox of {name})")));
            }
            let mut o = observed.clone();
            o.note = Some(format!("Not verified through S3: {why}; check the mailbox of {name}."));
            return Ok(Some(o));
        }
        let mut o = verify_via_s3(cx, name, verify, limit.unwrap_or(DEFAULT_VERIFY_WAIT)).await?;
        o.note = Some(format!("Verified by receiving its mail in s3://{}.", verify.setup().bucket));
        Ok(Some(o))
    }

    // ---- delete --------------------------------------------------------------------------------

    async fn delete(cx: &Cx<'_>, name: &str, _spec: &Spec, _observed: &Identity) -> Result<(), Error> {
        delete_identity(cx, name).await
    }

    // ---- export --------------------------------------------------------------------------------

    async fn list(cx: &Cx<'_>) -> Result<Listed, Error> {
        Ok(Listed::of(list_identities(cx, IdentityType::EmailAddress).await?))
    }

    fn export(_name: &str, o: &Identity, _secret_dir: &str) -> Exported {
        let mut e = Exported::default();
        if let Some(f) = o.feedback.as_ref().and_then(feedback::export) {
            e.set("feedback", f);
        }
        if let Some(set) = &o.configuration_set {
            e.set("configuration_set", set);
        }
        e
    }
}

fn check_verify(v: &VerifyViaS3, path: &str, errors: &mut Vec<Invalid>) {
    if let Some(b) = &v.bucket {
        validate::bucket_name(b, &format!("{path}.bucket"), errors);
    }
    if let Some(p) = &v.prefix {
        if p.len() > 1024 || p.starts_with('/') || p.chars().any(char::is_control) {
            errors.push(Invalid::new(
                format!("{path}.prefix"),
                format!(
                    "{} is not an S3 key prefix: at most 1024 characters, no control characters, no leading /",
                    validate::quote(p)
                ),
            ));
        }
    }
    if let Some(r) = &v.rule_set {
        validate::receipt_name(r, false, &format!("{path}.rule_set"), errors);
    }
    if let Some(r) = &v.rule {
        validate::receipt_name(r, true, &format!("{path}.rule"), errors);
    }
    if let Some(hosts) = &v.link_hosts {
        if hosts.is_empty() {
            errors.push(Invalid::new(format!("{path}.link_hosts"), "names no host; leave it out for AWS's"));
        }
        for (i, h) in hosts.iter().enumerate() {
            validate::host_port(h, &format!("{path}.link_hosts[{i}]"), errors);
        }
    }
}

/// Waits until SES reports the address verified.
async fn wait_verified(cx: &Cx<'_>, name: &str, limit: Duration) -> Result<Identity, Error> {
    let what = format!("SES email identity {name}");
    wait_for(
        &what,
        limit,
        async || read_identity(cx, name).await?.ok_or_else(|| Error::Refused(format!("{what} disappeared"))),
        |o: &Identity| match o.verification_status.as_str() {
            "SUCCESS" => Ok(vec![]),
            "FAILED" => Err(Error::Refused(format!("SES gave up verifying {name}; its verification FAILED"))),
            other => Ok(vec![format!("verification {other}")]),
        },
    )
    .await
}

/// Receives the verification mail in S3, follows its link, and waits until SES says the address
/// is verified, all within `limit`; the receiving setup is put back whatever happens.
async fn verify_via_s3(cx: &Cx<'_>, name: &str, verify: &VerifyViaS3, limit: Duration) -> Result<Identity, Error> {
    let start = Instant::now();
    let left = move || limit.saturating_sub(start.elapsed());
    let setup = verify.setup();
    let hosts = verify.link_hosts(cx.region());
    let mut journal = Journal::default();
    receiving::with_clean_up(cx, &setup, &mut journal, async |journal: &mut Journal| {
        receiving::set_up(cx, &setup, name, journal).await?;
        // A re-send: the first mail went out before the rule existed.
        cx.ses().verify_email_identity().email_address(name).send().await.op("VerifyEmailIdentity")?;
        let raw = receiving::receive(cx, &setup, journal, left()).await?;
        let link = mail::verification_link(&raw, cx.region(), &hosts)?;
        receiving::follow(&link).await?;
        wait_verified(cx, name, left()).await
    })
    .await
}

/// The identity's own verification and whether it may send, which differ for an address under a
/// verified domain: it may send at once, while its own verification waits for the mail's link.
fn status(name: &str, o: &Identity) -> String {
    let sending = if o.verified_for_sending { "may send" } else { "may not send yet" };
    let own = match o.verification_status.as_str() {
        "SUCCESS" => "its own verification succeeded".to_string(),
        "PENDING" => format!("its own verification is PENDING until the link in the mail SES sent to {name} is opened"),
        other => format!("its own verification is {other}"),
    };
    format!("The address {sending}; {own}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(status: &str, sending: bool) -> Identity {
        Identity {
            verification_status: status.into(),
            verified_for_sending: sending,
            dkim_status: None,
            dkim_tokens: vec![],
            dkim_key_length: None,
            mail_from: None,
            mail_from_status: None,
            mail_from_mx_failure: None,
            configuration_set: None,
            feedback: None,
            note: None,
        }
    }

    #[test]
    fn sending_and_own_verification_are_reported_apart() {
        let d = EmailIdentity::diff("a@example.org", &Spec::default(), Some(&identity("PENDING", true)));
        assert!(d.is_empty());
        assert!(d.notes[0].starts_with("The address may send; its own verification is PENDING"), "{:?}", d.notes);
        assert!(EmailIdentity::diff("a@example.org", &Spec::default(), None).create);
    }
}
