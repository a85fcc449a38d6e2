//! What domain and email identities share about notifications (runbook row 10): the `feedback`
//! setting (bounce, complaint and delivery topics, original headers, feedback forwarding, through
//! the SES v1 API, which SES v2 has no calls for) and the identity's default configuration set.

use aws_sdk_ses::types::NotificationType;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{AwsResult, Error, Invalid};
use crate::kind::{Cx, Diff, Ref};
use crate::resources::ses::{read_identity, Identity};
use crate::resources::sns;

/// The notification types, as Pillar and SES v1 name them.
const TYPES: [(Type, &str); 3] =
    [(Type::Bounce, "Bounce"), (Type::Complaint, "Complaint"), (Type::Delivery, "Delivery")];

/// Where SES sends an identity's bounce, complaint and delivery notifications.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Feedback {
    /// Topic for bounces: an `sns.topics` entry of this Pillar (in the same region) or a topic ARN.
    /// Left out: no bounce topic.
    #[serde(default)]
    pub bounce: Option<String>,
    /// Topic for complaints, as for `bounce`. Left out: no complaint topic.
    #[serde(default)]
    pub complaint: Option<String>,
    /// Topic for deliveries, as for `bounce`. Left out: no delivery topic.
    #[serde(default)]
    pub delivery: Option<String>,
    /// Include the original mail's headers: `true` for every type that has a topic, or a list of
    /// types (`bounce`, `complaint`, `delivery`), each of which needs its topic. Default: none.
    #[serde(default)]
    pub include_headers: Option<Headers>,
    /// Whether SES also mails bounces and complaints to the sender (AWS's default, true). Turning
    /// it off needs both a bounce and a complaint topic. Left out: not managed.
    #[serde(default)]
    pub forwarding: Option<bool>,
}

/// `true`/`false`, or a list of notification types.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Headers {
    /// Every type that has a topic (`true`) or none (`false`).
    All(bool),
    /// These types.
    Types(Vec<Type>),
}

/// A notification type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Type {
    Bounce,
    Complaint,
    Delivery,
}

impl Type {
    fn name(self) -> &'static str {
        match self {
            Type::Bounce => "bounce",
            Type::Complaint => "complaint",
            Type::Delivery => "delivery",
        }
    }
}

impl Feedback {
    fn topic(&self, t: Type) -> Option<&String> {
        match t {
            Type::Bounce => self.bounce.as_ref(),
            Type::Complaint => self.complaint.as_ref(),
            Type::Delivery => self.delivery.as_ref(),
        }
    }
    /// Whether the original headers are asked for `t`.
    fn headers(&self, t: Type) -> bool {
        match &self.include_headers {
            None | Some(Headers::All(false)) => false,
            Some(Headers::All(true)) => self.topic(t).is_some(),
            Some(Headers::Types(types)) => types.contains(&t),
        }
    }
}

/// Checks AWS would make: topics that are names or ARNs, headers only for types with a topic,
/// forwarding off only with bounce and complaint topics.
pub fn check(f: &Feedback, path: &str, errors: &mut Vec<Invalid>) {
    for (t, _) in TYPES {
        if let Some(topic) = f.topic(t) {
            sns::check_topic(topic, &format!("{path}.{}", t.name()), errors);
        }
    }
    if let Some(Headers::Types(types)) = &f.include_headers {
        for (i, t) in types.iter().enumerate() {
            if f.topic(*t).is_none() {
                errors.push(Invalid::new(
                    format!("{path}.include_headers[{i}]"),
                    format!("{} has no topic: AWS includes headers only in notifications it publishes", t.name()),
                ));
            } else if types[..i].contains(t) {
                errors.push(Invalid::new(
                    format!("{path}.include_headers[{i}]"),
                    format!("{} is listed twice", t.name()),
                ));
            }
        }
    }
    if f.forwarding == Some(false) && (f.bounce.is_none() || f.complaint.is_none()) {
        errors.push(Invalid::new(
            format!("{path}.forwarding"),
            "cannot be false without both a bounce and a complaint topic: AWS refuses to drop bounces and \
             complaints that go nowhere",
        ));
    }
}

/// The topic references of a `feedback` setting.
pub fn refs(f: &Feedback) -> Vec<Ref> {
    TYPES
        .iter()
        .filter_map(|(t, _)| f.topic(*t).and_then(|topic| sns::topic_ref(topic, format!("feedback.{}", t.name()))))
        .collect()
}

/// An identity's notification settings as SES v1 reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Observed {
    pub bounce: Option<String>,
    pub complaint: Option<String>,
    pub delivery: Option<String>,
    /// The types whose notifications include the original headers.
    pub include_headers: Vec<Type>,
    pub forwarding: bool,
}

impl Observed {
    fn topic(&self, t: Type) -> Option<&String> {
        match t {
            Type::Bounce => self.bounce.as_ref(),
            Type::Complaint => self.complaint.as_ref(),
            Type::Delivery => self.delivery.as_ref(),
        }
    }
}

/// Reads the identity's notification settings (SES answers for any name; an unknown identity has
/// the defaults).
pub async fn read(cx: &Cx<'_>, identity: &str) -> Result<Observed, Error> {
    let out = cx
        .ses()
        .get_identity_notification_attributes()
        .identities(identity)
        .send()
        .await
        .op("GetIdentityNotificationAttributes")?;
    let Some(a) = out.notification_attributes().get(identity) else {
        return Ok(Observed { forwarding: true, ..Observed::default() });
    };
    let mut include_headers = Vec::new();
    for (t, on) in [
        (Type::Bounce, a.headers_in_bounce_notifications_enabled()),
        (Type::Complaint, a.headers_in_complaint_notifications_enabled()),
        (Type::Delivery, a.headers_in_delivery_notifications_enabled()),
    ] {
        if on {
            include_headers.push(t);
        }
    }
    let topic = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
    Ok(Observed {
        bounce: topic(a.bounce_topic()),
        complaint: topic(a.complaint_topic()),
        delivery: topic(a.delivery_topic()),
        include_headers,
        forwarding: a.forwarding_enabled(),
    })
}

/// The `feedback` setting that says what `o` reports (topics by ARN); `None` for SES's defaults.
pub fn export(o: &Observed) -> Option<serde_json::Value> {
    let mut v = serde_json::Map::new();
    for (t, _) in TYPES {
        if let Some(topic) = o.topic(t) {
            v.insert(t.name().into(), serde_json::json!(topic));
        }
    }
    // AWS puts headers only in notifications it publishes, to a topic.
    let headers: Vec<Type> = o.include_headers.iter().copied().filter(|t| o.topic(*t).is_some()).collect();
    let with_topic = TYPES.iter().filter(|(t, _)| o.topic(*t).is_some()).count();
    match headers.len() {
        0 => {}
        n if n == with_topic => _ = v.insert("include_headers".into(), serde_json::json!(true)),
        _ => _ = v.insert("include_headers".into(), serde_json::json!(headers)),
    }
    if !o.forwarding {
        v.insert("forwarding".into(), serde_json::json!(false));
    }
    (!v.is_empty()).then_some(serde_json::Value::Object(v))
}

/// Whether the observed settings are what `f` asks for.
fn matches(f: &Feedback, o: &Observed) -> bool {
    TYPES.iter().all(|(t, _)| {
        let topic = match (f.topic(*t), o.topic(*t)) {
            (None, None) => true,
            (Some(want), Some(have)) => sns::same_topic(want, have),
            _ => false,
        };
        topic && f.headers(*t) == o.include_headers.contains(t)
    }) && f.forwarding.is_none_or(|want| want == o.forwarding)
}

/// The settings as `changes` show them.
fn view(f: &Feedback) -> serde_json::Value {
    let headers: Vec<Type> = TYPES.iter().map(|(t, _)| *t).filter(|t| f.headers(*t)).collect();
    let mut v = serde_json::json!({"bounce": f.bounce, "complaint": f.complaint, "delivery": f.delivery, "include_headers": headers});
    if let Some(fw) = f.forwarding {
        v["forwarding"] = serde_json::json!(fw);
    }
    v
}

/// Records a `feedback` change when the identity's settings differ.
pub fn diff(d: &mut Diff, f: Option<&Feedback>, o: Option<&Observed>) {
    let Some(f) = f else { return };
    match o {
        Some(o) if matches(f, o) => {}
        Some(o) => d.set("feedback", o, view(f)),
        None => d.set("feedback", (), view(f)),
    }
}

/// Writes the settings in the order AWS accepts: topics that are set, then headers, then
/// forwarding, and topics that are cleared last (AWS refuses headers for a type without a topic,
/// and forwarding off without bounce and complaint topics).
pub async fn apply(cx: &Cx<'_>, identity: &str, f: &Feedback, o: &Observed) -> Result<(), Error> {
    let ses = cx.ses();
    for (t, kind) in TYPES {
        if let Some(want) = f.topic(t) {
            if !o.topic(t).is_some_and(|have| sns::same_topic(want, have)) {
                ses.set_identity_notification_topic()
                    .identity(identity)
                    .notification_type(NotificationType::from(kind))
                    .sns_topic(sns::topic_arn(cx, want).await?)
                    .send()
                    .await
                    .op("SetIdentityNotificationTopic")?;
            }
        }
    }
    for (t, kind) in TYPES {
        let want = f.headers(t);
        // A type without a topic has no notifications to put headers in; AWS refuses to turn them on.
        if want != o.include_headers.contains(&t) && (f.topic(t).is_some() || !want) {
            ses.set_identity_headers_in_notifications_enabled()
                .identity(identity)
                .notification_type(NotificationType::from(kind))
                .enabled(want)
                .send()
                .await
                .op("SetIdentityHeadersInNotificationsEnabled")?;
        }
    }
    if let Some(want) = f.forwarding.filter(|w| *w != o.forwarding) {
        ses.set_identity_feedback_forwarding_enabled()
            .identity(identity)
            .forwarding_enabled(want)
            .send()
            .await
            .op("SetIdentityFeedbackForwardingEnabled")?;
    }
    for (t, kind) in TYPES {
        if f.topic(t).is_none() && o.topic(t).is_some() {
            ses.set_identity_notification_topic()
                .identity(identity)
                .notification_type(NotificationType::from(kind))
                .send()
                .await
                .op("SetIdentityNotificationTopic")?;
        }
    }
    Ok(())
}

/// Sets the identity's default configuration set.
pub async fn apply_configuration_set(cx: &Cx<'_>, identity: &str, set: &str) -> Result<(), Error> {
    cx.sesv2()
        .put_email_identity_configuration_set_attributes()
        .email_identity(identity)
        .configuration_set_name(set)
        .send()
        .await
        .op("PutEmailIdentityConfigurationSetAttributes")?;
    Ok(())
}

/// Adds what the identity's spec manages of its notifications to what SES v2 reported.
pub async fn read_into(cx: &Cx<'_>, name: &str, f: Option<&Feedback>, identity: &mut Identity) -> Result<(), Error> {
    if f.is_some() {
        identity.feedback = Some(read(cx, name).await?);
    }
    Ok(())
}

/// Why feedback settings wait: AWS sets notification topics only for a verified identity.
fn unverified(status: &str) -> String {
    let status = if status.is_empty() { "not verified yet" } else { status };
    format!(
        "Feedback settings wait until SES has verified the identity (it is {status}): AWS sets notification \
         topics only for verified identities, so apply again once it is verified."
    )
}

/// The `feedback` and `configuration_set` changes of an identity (`None`: it is being created).
/// Feedback that differs on an identity SES has not verified is a note, not a change.
pub fn diff_identity(d: &mut Diff, f: Option<&Feedback>, set: Option<&String>, o: Option<&Identity>) {
    match o {
        None => {
            diff(d, f, None);
            if let Some(s) = set {
                d.set("configuration_set", (), s);
            }
        }
        Some(o) => {
            let defaults = Observed { forwarding: true, ..Observed::default() };
            let mut feedback = Diff::default();
            diff(&mut feedback, f, Some(o.feedback.as_ref().unwrap_or(&defaults)));
            match (feedback.fields.pop(), o.verification_status.as_str()) {
                (Some(change), "SUCCESS") => d.fields.push(change),
                (Some(_), status) => d.notes.push(unverified(status)),
                (None, _) => {}
            }
            if let Some(s) = set {
                if o.configuration_set.as_ref() != Some(s) {
                    d.set("configuration_set", &o.configuration_set, s);
                }
            }
        }
    }
}

/// Writes the `feedback` and `configuration_set` changes `diff` lists.
pub async fn apply_identity(
    cx: &Cx<'_>,
    name: &str,
    f: Option<&Feedback>,
    set: Option<&String>,
    o: Option<&Identity>,
    diff: &mut Diff,
) -> Result<(), Error> {
    if let Some(f) = f.filter(|_| diff.has("feedback")) {
        // Only a new identity gets here unverified: SES verifies some at once (an address under a
        // verified domain), others only once DNS or the mailbox has answered.
        let status = match o {
            Some(o) => o.verification_status.clone(),
            None => read_identity(cx, name).await?.map(|i| i.verification_status).unwrap_or_default(),
        };
        if status != "SUCCESS" {
            diff.fields.retain(|c| c.field != "feedback");
            diff.notes.push(unverified(&status));
        } else {
            let defaults = Observed { forwarding: true, ..Observed::default() };
            apply(cx, name, f, o.and_then(|o| o.feedback.as_ref()).unwrap_or(&defaults)).await?;
        }
    }
    if let Some(s) = set.filter(|_| diff.has("configuration_set")) {
        apply_configuration_set(cx, name, s).await?;
    }
    Ok(())
}

/// The reference of an identity's `configuration_set`.
pub fn configuration_set_ref(set: Option<&String>) -> Option<Ref> {
    set.map(|s| Ref { kind: "ses.configuration_set", name: s.clone(), field: "configuration_set".into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:sns:us-east-1:123456789012:data";

    fn runbook() -> Feedback {
        Feedback {
            bounce: Some("data".into()),
            complaint: Some("data".into()),
            include_headers: Some(Headers::All(true)),
            ..Feedback::default()
        }
    }

    #[test]
    fn the_runbook_feedback_matches_what_aws_reports_for_it() {
        let o = Observed {
            bounce: Some(ARN.into()),
            complaint: Some(ARN.into()),
            delivery: None,
            include_headers: vec![Type::Bounce, Type::Complaint],
            forwarding: true,
        };
        let mut d = Diff::default();
        diff(&mut d, Some(&runbook()), Some(&o));
        assert!(d.is_empty());
        let mut drifted = o.clone();
        drifted.include_headers = vec![Type::Bounce];
        diff(&mut d, Some(&runbook()), Some(&drifted));
        assert!(d.has("feedback"));
        assert_eq!(d.fields[0].new["include_headers"], serde_json::json!(["bounce", "complaint"]));
    }

    #[test]
    fn export_says_what_aws_reports_and_reads_back_as_no_change() {
        let mut o = Observed {
            bounce: Some(ARN.into()),
            complaint: Some(ARN.into()),
            delivery: None,
            include_headers: vec![Type::Bounce, Type::Complaint],
            forwarding: true,
        };
        for _ in 0..2 {
            let value = export(&o).unwrap();
            let f: Feedback = serde_json::from_value(value).unwrap();
            let mut d = Diff::default();
            diff(&mut d, Some(&f), Some(&o));
            assert!(d.is_empty(), "{d:?}");
            (o.include_headers, o.forwarding) = (vec![Type::Complaint], false);
        }
        assert_eq!(export(&o).unwrap()["include_headers"], serde_json::json!(["complaint"]));
        assert_eq!(export(&Observed { forwarding: true, ..Observed::default() }), None);
    }

    #[test]
    fn checks_headers_without_topics_and_forwarding_off() {
        let f = Feedback {
            bounce: Some("data".into()),
            include_headers: Some(Headers::Types(vec![Type::Bounce, Type::Delivery, Type::Bounce])),
            forwarding: Some(false),
            ..Feedback::default()
        };
        let mut e = Vec::new();
        check(&f, "p", &mut e);
        let paths: Vec<&str> = e.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["p.include_headers[1]", "p.include_headers[2]", "p.forwarding"]);
        let mut e = Vec::new();
        check(&Feedback { forwarding: Some(false), ..runbook() }, "p", &mut e);
        assert!(e.is_empty(), "{e:?}");
    }

    #[test]
    fn refs_name_the_field() {
        let mut f = runbook();
        f.delivery = Some(ARN.into());
        let fields: Vec<String> = refs(&f).into_iter().map(|r| r.field).collect();
        assert_eq!(fields, ["feedback.bounce", "feedback.complaint"]);
    }
}
