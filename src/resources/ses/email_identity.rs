//! `ses.email_identity`: an email-address identity and its verification status (runbook row 5).
//! SES sends the address a verification mail; until its link is opened the identity is pending.

use aws_sdk_sesv2::types::IdentityType;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::common_spec;
use crate::error::{code, AwsResult, Error, Invalid};
use crate::kind::{Cx, Diff, Ensure, Exported, Kind, Listed, Ref};
use crate::resources::ses::feedback::{self, Feedback};
use crate::resources::ses::{delete_identity, list_identities, read_identity, Identity};
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
}
common_spec!(Spec);

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
    }

    fn refs(spec: &Spec) -> Vec<Ref> {
        let mut refs = spec.feedback.as_ref().map(feedback::refs).unwrap_or_default();
        refs.extend(feedback::configuration_set_ref(spec.configuration_set.as_ref()));
        refs
    }

    fn manage_all(spec: &mut Spec) {
        spec.feedback.get_or_insert_with(Feedback::default);
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
