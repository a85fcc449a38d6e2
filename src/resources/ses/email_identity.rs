//! `ses.email_identity`: an email-address identity and its verification status (runbook row 5).
//! SES sends the address a verification mail; until its link is opened the identity is pending.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::common_spec;
use crate::error::{code, AwsResult, Error, Invalid};
use crate::kind::{Cx, Diff, Ensure, Kind};
use crate::resources::ses::{delete_identity, read_identity, Identity};
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
}
common_spec!(Spec);

// ---- read ----------------------------------------------------------------------------------

impl Kind for EmailIdentity {
    const KIND: &'static str = "ses.email_identity";
    const NOUN: &'static str = "SES email identity";
    type Spec = Spec;
    type Observed = Identity;

    fn check(name: &str, _spec: &Spec, path: &str, errors: &mut Vec<Invalid>) {
        validate::email(name, path, errors);
    }

    async fn read(cx: &Cx<'_>, name: &str, _spec: &Spec) -> Result<Option<Identity>, Error> {
        read_identity(cx, name).await
    }

    // ---- diff ----------------------------------------------------------------------------------

    fn diff(name: &str, _spec: &Spec, observed: Option<&Identity>) -> Diff {
        let Some(o) = observed else { return Diff::creating() };
        let mut d = Diff::default();
        d.notes.push(status(name, o));
        d
    }

    // ---- apply ---------------------------------------------------------------------------------

    async fn apply(
        cx: &Cx<'_>,
        name: &str,
        _spec: &Spec,
        observed: Option<&Identity>,
        _diff: &mut Diff,
    ) -> Result<(), Error> {
        if observed.is_none() {
            cx.sesv2()
                .create_email_identity()
                .email_identity(name)
                .send()
                .await
                .none_if("CreateEmailIdentity", &[code::ALREADY_EXISTS])?;
        }
        Ok(())
    }

    // ---- delete --------------------------------------------------------------------------------

    async fn delete(cx: &Cx<'_>, name: &str, _spec: &Spec, _observed: &Identity) -> Result<(), Error> {
        delete_identity(cx, name).await
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
