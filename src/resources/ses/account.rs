//! `ses.account`: account-level SES settings of one region (runbook rows 14–15): the account
//! suppression list, and the one-time request to move out of the sandbox.

use aws_sdk_sesv2::types::{ContactLanguage, MailType, SuppressionListReason};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common_spec;
use crate::error::{AwsResult, Error, Invalid};
use crate::kind::{Cx, Diff, Ensure, Exported, Kind, Listed};
use crate::validate;

pub struct Account;

// ---- spec ----------------------------------------------------------------------------------

/// SES account settings. They are per region: the resource's name is its region.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Only `present`: account settings cannot be deleted; remove the entry to stop managing them.
    #[serde(default)]
    pub ensure: Ensure,
    /// Region whose SES account settings these are (default: the Pillar's `region`).
    #[serde(default)]
    pub region: Option<String>,
    /// The account-level suppression list: `disabled`, or the reasons that put an address on it
    /// (`[BOUNCE, COMPLAINT]` is AWS's default). Left out: not managed.
    #[serde(default)]
    pub suppression_list: Option<Suppression>,
    /// Ask AWS to move the account out of the sandbox. Sent once: a request that is pending or
    /// granted is never sent again.
    #[serde(default)]
    pub production_access: Option<ProductionAccess>,
}
common_spec!(Spec);

/// `disabled`, or a list of reasons.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Suppression {
    /// `disabled`: no address is suppressed at the account level.
    Disabled(Disabled),
    /// Suppress addresses for these reasons.
    Reasons(Vec<Reason>),
}

/// The word `disabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Disabled {
    Disabled,
}

/// Why an address is added to the suppression list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Reason {
    /// A hard bounce.
    Bounce,
    /// A complaint.
    Complaint,
}

impl Suppression {
    fn reasons(&self) -> Vec<String> {
        let mut r: Vec<String> = match self {
            Suppression::Disabled(_) => Vec::new(),
            Suppression::Reasons(r) => r.iter().map(|x| format!("{x:?}").to_uppercase()).collect(),
        };
        r.sort();
        r.dedup();
        r
    }
}

/// The production access request, as the console's form asks for it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductionAccess {
    /// `TRANSACTIONAL` or `MARKETING`.
    pub mail_type: Mail,
    /// The website the mail is about, e.g. `https://www.open-contracting.org`.
    pub website_url: String,
    /// How the account sends mail, handles bounces and complaints, and gets consent.
    pub use_case_description: String,
    /// `EN` (default) or `JA`.
    #[serde(default)]
    pub contact_language: Language,
    /// One to four more addresses that hear about the request. Left out: none.
    #[serde(default)]
    pub additional_contacts: Option<Vec<String>>,
}

/// Kind of mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Mail {
    /// Messages a user triggers: receipts, password resets, notifications.
    Transactional,
    /// Promotional messages.
    Marketing,
}

/// Language of AWS's answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum Language {
    /// English.
    #[default]
    #[serde(rename = "EN")]
    En,
    /// Japanese.
    #[serde(rename = "JA")]
    Ja,
}

// ---- read ----------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observed {
    pub suppressed_reasons: Vec<String>,
    pub production_access: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    pub sending_enabled: bool,
}

impl Kind for Account {
    const KIND: &'static str = "ses.account";
    const NOUN: &'static str = "SES account in";
    type Spec = Spec;
    type Observed = Observed;

    fn check(_name: &str, spec: &Spec, path: &str, errors: &mut Vec<Invalid>) {
        if spec.ensure == Ensure::Absent {
            errors.push(Invalid::new(
                format!("{path}.ensure"),
                "account settings cannot be absent; remove the entry to stop managing them",
            ));
        }
        if let Some(p) = &spec.production_access {
            let path = format!("{path}.production_access");
            if !p.website_url.starts_with("http://") && !p.website_url.starts_with("https://") {
                errors.push(Invalid::new(format!("{path}.website_url"), "expected a URL starting with https://"));
            }
            if p.use_case_description.trim().is_empty() {
                errors.push(Invalid::new(
                    format!("{path}.use_case_description"),
                    "AWS reviews this text: describe the use",
                ));
            }
            let contacts = p.additional_contacts.as_deref().unwrap_or_default();
            // AWS refuses an empty list (the API takes 1 to 4 addresses): leaving it out means none.
            if p.additional_contacts.as_ref().is_some_and(Vec::is_empty) {
                errors.push(Invalid::new(
                    format!("{path}.additional_contacts"),
                    "give 1 to 4 addresses, or leave additional_contacts out",
                ));
            }
            if contacts.len() > 4 {
                errors.push(Invalid::new(format!("{path}.additional_contacts"), "AWS takes at most 4 addresses"));
            }
            for (i, a) in contacts.iter().enumerate() {
                validate::email(a, &format!("{path}.additional_contacts[{i}]"), errors);
            }
        }
    }

    async fn read(cx: &Cx<'_>, _name: &str, _spec: &Spec) -> Result<Option<Observed>, Error> {
        let a = cx.sesv2().get_account().send().await.op("GetAccount")?;
        let mut suppressed: Vec<String> = a
            .suppression_attributes()
            .map(|s| s.suppressed_reasons().iter().map(|r| r.as_str().to_string()).collect())
            .unwrap_or_default();
        suppressed.sort();
        let review = a.details().and_then(|d| d.review_details());
        Ok(Some(Observed {
            suppressed_reasons: suppressed,
            production_access: a.production_access_enabled(),
            review_status: review.and_then(|r| r.status()).map(|s| s.as_str().to_string()),
            case_id: review.and_then(|r| r.case_id()).map(str::to_string),
            sending_enabled: a.sending_enabled(),
        }))
    }

    // ---- diff ----------------------------------------------------------------------------------

    fn diff(_name: &str, spec: &Spec, observed: Option<&Observed>) -> Diff {
        let mut d = Diff::default();
        let Some(o) = observed else { return d };
        if let Some(s) = &spec.suppression_list {
            d.compare("suppression_list", Some(&s.reasons()), &o.suppressed_reasons);
        }
        let case = o.case_id.as_deref().map(|c| format!(" (case {c})")).unwrap_or_default();
        let access = match (o.production_access, o.review_status.as_deref()) {
            (true, _) => "granted".to_string(),
            (false, Some("PENDING")) => format!("pending review{case}"),
            (false, Some("DENIED")) => format!("denied{case}"),
            (false, _) => "not requested (sandbox)".to_string(),
        };
        if spec.production_access.is_some() && !o.production_access {
            match o.review_status.as_deref() {
                Some("PENDING") => {}
                Some("DENIED") => d.conflicts.push(format!(
                    "AWS denied production access{case}; answer the case in the AWS Support Center instead of \
                     sending the request again, or remove production_access from Pillar."
                )),
                _ => d.set("production_access", "sandbox", "requested"),
            }
        }
        let sending = if o.sending_enabled { "enabled" } else { "disabled" };
        d.notes.push(format!("Production access: {access}. Sending: {sending}."));
        d
    }

    // ---- apply ---------------------------------------------------------------------------------

    async fn apply(
        cx: &Cx<'_>,
        _name: &str,
        spec: &Spec,
        _observed: Option<&Observed>,
        diff: &mut Diff,
    ) -> Result<(), Error> {
        let ses = cx.sesv2();
        if let (Some(s), true) = (&spec.suppression_list, diff.has("suppression_list")) {
            let reasons = s.reasons().iter().map(|r| SuppressionListReason::from(r.as_str())).collect();
            ses.put_account_suppression_attributes()
                .set_suppressed_reasons(Some(reasons))
                .send()
                .await
                .op("PutAccountSuppressionAttributes")?;
        }
        if let (Some(p), true) = (&spec.production_access, diff.has("production_access")) {
            ses.put_account_details()
                .mail_type(match p.mail_type {
                    Mail::Transactional => MailType::Transactional,
                    Mail::Marketing => MailType::Marketing,
                })
                .website_url(&p.website_url)
                .use_case_description(&p.use_case_description)
                .contact_language(match p.contact_language {
                    Language::En => ContactLanguage::En,
                    Language::Ja => ContactLanguage::Ja,
                })
                // Sent only when there are some: AWS refuses an empty list.
                .set_additional_contact_email_addresses(p.additional_contacts.clone().filter(|c| !c.is_empty()))
                .production_access_enabled(true)
                .send()
                .await
                .op("PutAccountDetails")?;
        }
        Ok(())
    }

    // ---- delete --------------------------------------------------------------------------------

    async fn delete(_cx: &Cx<'_>, _name: &str, _spec: &Spec, _observed: &Observed) -> Result<(), Error> {
        Err(Error::Refused("account settings cannot be deleted".into()))
    }

    // ---- export --------------------------------------------------------------------------------

    /// Every region has account settings; the entry is named after its region.
    async fn list(cx: &Cx<'_>) -> Result<Listed, Error> {
        Ok(Listed::of(vec![cx.region().to_string()]))
    }

    /// The suppression list; production access is a request sent once, so it becomes a comment.
    fn export(_name: &str, o: &Observed, _secret_dir: &str) -> Exported {
        let mut e = Exported::default();
        match o.suppressed_reasons.is_empty() {
            true => e.set("suppression_list", "disabled"),
            false => e.set("suppression_list", &o.suppressed_reasons),
        }
        e.comments.push(match (o.production_access, o.review_status.as_deref()) {
            (true, _) => "production access: granted (out of the sandbox).".to_string(),
            (false, Some(status)) => format!("production access: requested, review {status}."),
            (false, None) => "in the sandbox: to ask for production access, add production_access with mail_type, \
                              website_url and use_case_description."
                .to_string(),
        });
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(access: bool, review: Option<&str>) -> Observed {
        Observed {
            suppressed_reasons: vec!["BOUNCE".into(), "COMPLAINT".into()],
            production_access: access,
            review_status: review.map(str::to_string),
            case_id: review.map(|_| "123".to_string()),
            sending_enabled: true,
        }
    }

    fn request() -> ProductionAccess {
        ProductionAccess {
            mail_type: Mail::Transactional,
            website_url: "https://www.open-contracting.org".into(),
            use_case_description: "Notifications".into(),
            contact_language: Language::En,
            additional_contacts: None,
        }
    }

    fn errors(spec: &Spec) -> Vec<String> {
        let mut errors = Vec::new();
        Account::check("us-east-1", spec, "a", &mut errors);
        errors.into_iter().map(|e| e.path).collect()
    }

    #[test]
    fn additional_contacts_are_one_to_four_addresses_or_left_out() {
        let with = |contacts: Option<Vec<&str>>| Spec {
            production_access: Some(ProductionAccess {
                additional_contacts: contacts.map(|c| c.into_iter().map(str::to_string).collect()),
                ..request()
            }),
            ..Spec::default()
        };
        assert!(errors(&with(None)).is_empty());
        assert!(errors(&with(Some(vec!["ops@example.org"]))).is_empty());
        assert_eq!(errors(&with(Some(vec![]))), ["a.production_access.additional_contacts"]);
        assert_eq!(errors(&with(Some(vec!["a@example.org"; 5]))), ["a.production_access.additional_contacts"]);
    }

    #[test]
    fn disabling_the_suppression_list() {
        let spec = Spec { suppression_list: Some(Suppression::Disabled(Disabled::Disabled)), ..Spec::default() };
        let d = Account::diff("us-east-1", &spec, Some(&observed(false, None)));
        assert_eq!(d.fields[0].new, serde_json::json!([]));
        let both = Spec {
            suppression_list: Some(Suppression::Reasons(vec![Reason::Complaint, Reason::Bounce])),
            ..Spec::default()
        };
        assert!(Account::diff("us-east-1", &both, Some(&observed(false, None))).is_empty());
    }

    #[test]
    fn production_access_is_requested_once() {
        let spec = Spec { production_access: Some(request()), ..Spec::default() };
        assert!(Account::diff("r", &spec, Some(&observed(false, None))).has("production_access"));
        let pending = Account::diff("r", &spec, Some(&observed(false, Some("PENDING"))));
        assert!(pending.is_empty());
        assert_eq!(pending.notes, ["Production access: pending review (case 123). Sending: enabled."]);
        assert!(Account::diff("r", &spec, Some(&observed(true, Some("GRANTED")))).is_empty());
        assert_eq!(Account::diff("r", &spec, Some(&observed(false, Some("DENIED")))).conflicts.len(), 1);
    }
}
