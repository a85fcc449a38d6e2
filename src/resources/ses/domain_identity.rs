//! `ses.domain_identity`: a sending domain with Easy DKIM, an optional custom MAIL FROM domain, the
//! DNS records the registrar needs, and an optional wait until SES has verified it (runbook rows 2–4, 7).

use aws_sdk_sesv2::types::{
    BehaviorOnMxFailure, DkimSigningAttributes, DkimSigningAttributesOrigin, DkimSigningKeyLength, IdentityType,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use aws_config::retry::RetryConfig;

use crate::common_spec;
use crate::dns;
use crate::error::{code, AwsResult, Error, Invalid};
use crate::kind::{Cx, Diff, Ensure, Exported, Kind, Listed, Ref};
use crate::resources::ses::feedback::{self, Feedback};
use crate::resources::ses::{delete_identity, list_identities, read_identity, wait_for, Identity};
use crate::validate;

pub struct DomainIdentity;

// ---- spec ----------------------------------------------------------------------------------

/// An SES domain identity with Easy DKIM. The Pillar key is the domain, e.g. `open-contracting.org`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub ensure: Ensure,
    /// SES region that sends for the domain (default: the Pillar's `region`).
    #[serde(default)]
    pub region: Option<String>,
    /// Easy DKIM key length. AWS lets it change at most once a day.
    #[serde(default)]
    pub dkim: KeyLength,
    /// Custom MAIL FROM domain, a subdomain of this domain, e.g. `bounce.open-contracting.org`.
    /// Left out: not managed.
    #[serde(default)]
    pub mail_from: Option<String>,
    /// What SES does when the MAIL FROM domain's MX record is missing (default `USE_DEFAULT_VALUE`).
    #[serde(default)]
    pub mail_from_mx_failure: Option<MxFailure>,
    /// Wait up to this long (e.g. `15m`) until SES has verified the domain (and the MAIL FROM
    /// domain), showing progress on stderr. Left out: do not wait.
    #[serde(default)]
    pub wait: Option<String>,
    /// The DNS zone the registrar manages, for host names relative to it (default: the domain).
    #[serde(default)]
    pub zone: Option<String>,
    /// Also list the MX record for receiving mail with SES (`inbound-smtp.REGION.amazonaws.com`).
    #[serde(default)]
    pub receiving: bool,
    /// The DMARC record to suggest at `_dmarc` (default `v=DMARC1; p=none;`).
    #[serde(default)]
    pub dmarc: Option<String>,
    /// Where SES sends bounce, complaint and delivery notifications, with or without the original
    /// headers, and whether it also mails them to the sender. Left out: not managed.
    #[serde(default)]
    pub feedback: Option<Feedback>,
    /// The identity's default configuration set: an `ses.configuration_sets` entry of this Pillar.
    /// Left out: not managed.
    #[serde(default)]
    pub configuration_set: Option<String>,
}
common_spec!(Spec);

/// Easy DKIM RSA key length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum KeyLength {
    /// 2048-bit keys (the default, and the runbook's choice).
    #[default]
    #[serde(rename = "RSA_2048_BIT")]
    Rsa2048,
    /// 1024-bit keys, for DNS providers that cannot hold a 2048-bit key.
    #[serde(rename = "RSA_1024_BIT")]
    Rsa1024,
}

impl KeyLength {
    fn as_str(self) -> &'static str {
        match self {
            KeyLength::Rsa2048 => "RSA_2048_BIT",
            KeyLength::Rsa1024 => "RSA_1024_BIT",
        }
    }
}

/// Behaviour when the MAIL FROM domain's MX record cannot be found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MxFailure {
    /// Send with the default MAIL FROM domain (amazonses.com).
    #[default]
    UseDefaultValue,
    /// Reject the message.
    RejectMessage,
}

impl MxFailure {
    fn as_str(self) -> &'static str {
        match self {
            MxFailure::UseDefaultValue => "USE_DEFAULT_VALUE",
            MxFailure::RejectMessage => "REJECT_MESSAGE",
        }
    }
}

impl Spec {
    fn region(&self) -> &str {
        self.region.as_deref().unwrap_or(crate::aws::DEFAULT_REGION)
    }
    fn mx_failure(&self) -> MxFailure {
        self.mail_from_mx_failure.unwrap_or_default()
    }
}

/// The DNS records the domain needs, from what SES reports.
pub fn records(name: &str, spec: &Spec, o: &Identity) -> Vec<dns::Record> {
    dns::records(&dns::Inputs {
        domain: name,
        region: spec.region(),
        zone: spec.zone.as_deref(),
        dkim_tokens: &o.dkim_tokens,
        mail_from: o.mail_from.as_deref().or(spec.mail_from.as_deref()),
        receiving: spec.receiving,
        dmarc: spec.dmarc.as_deref(),
    })
}

// ---- read ----------------------------------------------------------------------------------

impl Kind for DomainIdentity {
    const KIND: &'static str = "ses.domain_identity";
    const NOUN: &'static str = "SES domain identity";
    const REFERS_TO: &'static [&'static str] = &[crate::resources::sns::TOPIC, "ses.configuration_set"];
    type Spec = Spec;
    type Observed = Identity;

    fn check(name: &str, spec: &Spec, path: &str, errors: &mut Vec<Invalid>) {
        validate::domain(name, path, errors);
        if let Some(mf) = &spec.mail_from {
            let mail_from_path = format!("{path}.mail_from");
            let before = errors.len();
            validate::domain(mf, &mail_from_path, errors);
            if errors.len() == before && mf.strip_suffix(&format!(".{name}")).is_none_or(str::is_empty) {
                errors.push(Invalid::new(
                    mail_from_path,
                    format!("{} must be a subdomain of {name}, like bounce.{name}", validate::quote(mf)),
                ));
            }
        }
        if spec.mail_from_mx_failure.is_some() && spec.mail_from.is_none() {
            errors.push(Invalid::new(format!("{path}.mail_from_mx_failure"), "needs mail_from"));
        }
        if let Some(w) = &spec.wait {
            if let Err(e) = validate::duration(w) {
                errors.push(Invalid::new(format!("{path}.wait"), e));
            }
        }
        if let Some(f) = &spec.feedback {
            feedback::check(f, &format!("{path}.feedback"), errors);
        }
        if let Some(z) = &spec.zone {
            let zone_path = format!("{path}.zone");
            let before = errors.len();
            validate::domain(z, &zone_path, errors);
            if errors.len() == before && name != z && !name.ends_with(&format!(".{z}")) {
                errors.push(Invalid::new(zone_path, format!("{name} is not in the zone {z}")));
            }
        }
    }

    fn manage_all(spec: &mut Spec) {
        spec.receiving = true;
        spec.feedback.get_or_insert_with(Feedback::default);
    }

    fn refs(spec: &Spec) -> Vec<Ref> {
        let mut refs = spec.feedback.as_ref().map(feedback::refs).unwrap_or_default();
        refs.extend(feedback::configuration_set_ref(spec.configuration_set.as_ref()));
        refs
    }

    async fn read(cx: &Cx<'_>, name: &str, spec: &Spec) -> Result<Option<Identity>, Error> {
        let Some(mut identity) = read_identity(cx, name).await? else { return Ok(None) };
        feedback::read_into(cx, name, spec.feedback.as_ref(), &mut identity).await?;
        Ok(Some(identity))
    }

    // ---- diff ----------------------------------------------------------------------------------

    fn diff(name: &str, spec: &Spec, observed: Option<&Identity>) -> Diff {
        let Some(o) = observed else {
            let mut d = Diff::creating();
            d.set("dkim", (), spec.dkim);
            if let Some(mf) = &spec.mail_from {
                d.set("mail_from", (), mf);
                d.set("mail_from_mx_failure", (), spec.mx_failure());
            }
            feedback::diff_identity(&mut d, spec.feedback.as_ref(), spec.configuration_set.as_ref(), None);
            return d;
        };
        let mut d = Diff::default();
        if o.dkim_key_length.as_deref() != Some(spec.dkim.as_str()) {
            d.set("dkim", &o.dkim_key_length, spec.dkim);
        }
        if let Some(mf) = &spec.mail_from {
            if o.mail_from.as_deref() != Some(mf.as_str()) {
                d.set("mail_from", &o.mail_from, mf);
            }
            if o.mail_from_mx_failure.as_deref() != Some(spec.mx_failure().as_str()) {
                d.set("mail_from_mx_failure", &o.mail_from_mx_failure, spec.mx_failure());
            }
        }
        feedback::diff_identity(&mut d, spec.feedback.as_ref(), spec.configuration_set.as_ref(), Some(o));
        d.notes.push(status(o, spec.mail_from.is_some()));
        if !pending(o, spec.mail_from.is_some()).is_empty() {
            let zone = spec.zone.as_deref().unwrap_or(name);
            d.notes.push(format!(
                "DNS records to create in the zone {zone} (see `ocp-aws dns records {name}`): {}.",
                dns::sentence(&records(name, spec, o))
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
        let ses = cx.sesv2();
        let key = DkimSigningKeyLength::from(spec.dkim.as_str());
        if observed.is_none() {
            ses.create_email_identity()
                .email_identity(name)
                .dkim_signing_attributes(DkimSigningAttributes::builder().next_signing_key_length(key.clone()).build())
                .send()
                .await
                .none_if("CreateEmailIdentity", &[code::ALREADY_EXISTS])?;
        } else if diff.has("dkim") {
            // AWS allows one key length change a day: a refusal is reported at once, not retried.
            ses.put_email_identity_dkim_signing_attributes()
                .email_identity(name)
                .signing_attributes_origin(DkimSigningAttributesOrigin::AwsSes)
                .signing_attributes(DkimSigningAttributes::builder().next_signing_key_length(key).build())
                .customize()
                .config_override(aws_sdk_sesv2::Config::builder().retry_config(RetryConfig::disabled()))
                .send()
                .await
                .map_err(|e| match crate::error::aws_error("PutEmailIdentityDkimSigningAttributes", e) {
                    Error::Aws { operation, message, source } => Error::Aws {
                        operation,
                        message: format!("{message} (AWS lets the DKIM key length change at most once a day)"),
                        source,
                    },
                    other => other,
                })?;
        }
        if diff.has("mail_from") || diff.has("mail_from_mx_failure") {
            ses.put_email_identity_mail_from_attributes()
                .email_identity(name)
                .set_mail_from_domain(spec.mail_from.clone())
                .behavior_on_mx_failure(BehaviorOnMxFailure::from(spec.mx_failure().as_str()))
                .send()
                .await
                .op("PutEmailIdentityMailFromAttributes")?;
        }
        feedback::apply_identity(cx, name, spec.feedback.as_ref(), spec.configuration_set.as_ref(), observed, diff)
            .await
    }

    async fn settle(cx: &Cx<'_>, name: &str, spec: &Spec, observed: &Identity) -> Result<Option<Identity>, Error> {
        let Some(limit) = spec.wait.as_deref().and_then(|w| validate::duration(w).ok()) else { return Ok(None) };
        let mail_from = spec.mail_from.is_some();
        if pending(observed, mail_from).is_empty() {
            return Ok(None);
        }
        let what = format!("SES domain identity {name}");
        let settled = wait_for(
            &what,
            limit,
            async || read_identity(cx, name).await?.ok_or_else(|| Error::Refused(format!("{what} disappeared"))),
            |o: &Identity| {
                if let Some(failed) = failed(o) {
                    let records = dns::sentence(&records(name, spec, o));
                    return Err(Error::Refused(format!(
                        "SES gave up verifying {name}: {failed}. Check these DNS records: {records}"
                    )));
                }
                Ok(pending(o, mail_from))
            },
        )
        .await?;
        Ok(Some(settled))
    }

    // ---- delete --------------------------------------------------------------------------------

    async fn delete(cx: &Cx<'_>, name: &str, _spec: &Spec, _observed: &Identity) -> Result<(), Error> {
        delete_identity(cx, name).await
    }

    // ---- export --------------------------------------------------------------------------------

    async fn list(cx: &Cx<'_>) -> Result<Listed, Error> {
        Ok(Listed::of(list_identities(cx, IdentityType::Domain).await?))
    }

    fn export(name: &str, o: &Identity, _secret_dir: &str) -> Exported {
        let mut e = Exported::default();
        match o.dkim_key_length.as_deref() {
            Some(k @ ("RSA_2048_BIT" | "RSA_1024_BIT")) => e.set("dkim", k),
            other => e.notes.push(format!(
                "SES domain identity {name} has no Easy DKIM key length Pillar knows ({}): dkim is left at its \
                 default, RSA_2048_BIT, which the first apply asks SES for.",
                other.unwrap_or("none")
            )),
        }
        if let Some(mail_from) = &o.mail_from {
            e.set("mail_from", mail_from);
            if o.mail_from_mx_failure.as_deref() == Some(MxFailure::RejectMessage.as_str()) {
                e.set("mail_from_mx_failure", MxFailure::RejectMessage);
            }
        }
        if let Some(f) = o.feedback.as_ref().and_then(feedback::export) {
            e.set("feedback", f);
        }
        if let Some(set) = &o.configuration_set {
            e.set("configuration_set", set);
        }
        e
    }
}

/// What is not yet `SUCCESS`, e.g. `["verification PENDING", "DKIM PENDING"]`.
fn pending(o: &Identity, mail_from: bool) -> Vec<String> {
    let mut out = Vec::new();
    if o.verification_status != "SUCCESS" {
        out.push(format!("verification {}", o.verification_status));
    }
    if let Some(s) = o.dkim_status.as_deref().filter(|s| *s != "SUCCESS") {
        out.push(format!("DKIM {s}"));
    }
    if mail_from {
        match o.mail_from_status.as_deref() {
            Some("SUCCESS") => {}
            Some(s) => out.push(format!("MAIL FROM {s}")),
            None => out.push("MAIL FROM not set".into()),
        }
    }
    out
}

/// A status that waiting will not change.
fn failed(o: &Identity) -> Option<String> {
    let bad = |s: &str| s == "FAILED";
    if bad(&o.verification_status) || o.dkim_status.as_deref().is_some_and(bad) {
        return Some(format!(
            "verification {}, DKIM {}",
            o.verification_status,
            o.dkim_status.as_deref().unwrap_or("unknown")
        ));
    }
    o.mail_from_status.as_deref().filter(|s| bad(s)).map(|s| format!("MAIL FROM {s}"))
}

fn status(o: &Identity, mail_from: bool) -> String {
    let mut s = format!(
        "Verification: {}. DKIM: {}.",
        o.verification_status,
        o.dkim_status.as_deref().unwrap_or("not started")
    );
    if mail_from || o.mail_from.is_some() {
        s.push_str(&format!(
            " MAIL FROM {}: {}.",
            o.mail_from.as_deref().unwrap_or("(none)"),
            o.mail_from_status.as_deref().unwrap_or("not set")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(status: &str) -> Identity {
        Identity {
            verification_status: status.into(),
            verified_for_sending: status == "SUCCESS",
            dkim_status: Some(status.into()),
            dkim_tokens: vec!["t1".into(), "t2".into(), "t3".into()],
            dkim_key_length: Some("RSA_2048_BIT".into()),
            mail_from: Some("bounce.example.org".into()),
            mail_from_status: Some(status.into()),
            mail_from_mx_failure: Some("USE_DEFAULT_VALUE".into()),
            configuration_set: None,
            feedback: None,
            note: None,
        }
    }

    fn spec() -> Spec {
        Spec { mail_from: Some("bounce.example.org".into()), region: Some("eu-west-2".into()), ..Spec::default() }
    }

    #[test]
    fn a_verified_identity_in_sync_has_no_changes_and_reports_its_status() {
        let d = DomainIdentity::diff("example.org", &spec(), Some(&identity("SUCCESS")));
        assert!(d.is_empty());
        assert_eq!(d.notes, ["Verification: SUCCESS. DKIM: SUCCESS. MAIL FROM bounce.example.org: SUCCESS."]);
    }

    #[test]
    fn a_pending_identity_lists_the_records_to_create() {
        let d = DomainIdentity::diff("example.org", &spec(), Some(&identity("PENDING")));
        let records = &d.notes[1];
        assert!(records.contains("t1._domainkey CNAME t1.dkim.amazonses.com"), "{records}");
        assert!(records.contains("bounce MX 10 feedback-smtp.eu-west-2.amazonses.com"), "{records}");
        assert!(records.contains("bounce TXT v=spf1 include:amazonses.com ~all"), "{records}");
        assert_eq!(pending(&identity("PENDING"), true), ["verification PENDING", "DKIM PENDING", "MAIL FROM PENDING"]);
    }

    #[test]
    fn key_length_and_mail_from_changes() {
        let mut s = spec();
        s.dkim = KeyLength::Rsa1024;
        s.mail_from_mx_failure = Some(MxFailure::RejectMessage);
        let d = DomainIdentity::diff("example.org", &s, Some(&identity("SUCCESS")));
        assert!(d.has("dkim") && d.has("mail_from_mx_failure") && !d.has("mail_from"));
    }

    #[test]
    fn checks_mail_from_wait_and_zone() {
        let mut e = Vec::new();
        let s = Spec {
            mail_from: Some("bounce.other.org".into()),
            wait: Some("soon".into()),
            zone: Some("x.org".into()),
            ..Spec::default()
        };
        DomainIdentity::check("example.org", &s, "p", &mut e);
        let paths: Vec<&str> = e.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["p.mail_from", "p.wait", "p.zone"]);
    }
}
