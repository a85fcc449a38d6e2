//! Reading an SES notification for debugging delivery (runbook row 13): what the subscribed address
//! receives, whether the SNS email body, the SNS JSON envelope (`email-json`, HTTP, SQS) or the SES
//! notification itself, detected automatically; what matters about it, and what to do. Pure: no AWS.

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;

/// The most of a notification this reads; SES notifications are far smaller.
pub const MAX_BYTES: usize = 1 << 20;

/// What a notification says, as far as debugging delivery needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// `SNS email body`, `SNS envelope` or `SES notification`.
    pub format: &'static str,
    /// `notification` (identity feedback) or `event` (a configuration set's event destination).
    pub source: &'static str,
    /// e.g. `Bounce`, `Complaint`, `DeliveryDelay`, `Reject`, `Rendering Failure`.
    pub kind: String,
    /// One sentence about what happened.
    pub summary: String,
    /// The kind's own facts, in a fixed order (bounce type, feedback type, delay type, ...).
    pub details: Vec<Detail>,
    /// Per recipient: what happened and what to do.
    pub recipients: Vec<Recipient>,
    /// The original mail.
    pub mail: Mail,
    /// What to do about it, as sentences.
    pub advice: Vec<String>,
}

/// A named fact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detail {
    pub name: &'static str,
    pub value: String,
}

/// One recipient of a bounce, complaint, delay or delivery.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Recipient {
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostic_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
}

/// The original mail, as the notification describes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Mail {
    pub source: Option<String>,
    pub destination: Vec<String>,
    /// Only when the identity includes the original headers in notifications.
    pub subject: Option<String>,
    pub message_id: Option<String>,
    pub timestamp: Option<String>,
    /// The identity the mail was sent with (from the source ARN).
    pub sending_identity: Option<String>,
    pub source_ip: Option<String>,
    pub configuration_set: Option<String>,
    /// Whether the notification carries the original headers.
    pub headers_included: bool,
}

/// Reads a notification in any of the shapes a subscriber receives.
pub fn explain(text: &str) -> Result<Explanation, Error> {
    let refuse = |m: &str| Error::invalid("notification", m.to_string());
    if text.len() > MAX_BYTES {
        return Err(refuse(&format!("is larger than {MAX_BYTES} bytes")));
    }
    let (value, mut format) = match serde_json::from_str::<Value>(text.trim()) {
        Ok(v) => (v, "SES notification"),
        // The email protocol's body is the message followed by SNS's unsubscribe footer; a saved
        // mail may also have headers before it.
        Err(_) => (
            first_object(text).ok_or_else(|| {
                refuse("holds no JSON object: expected an SES notification, an SNS message or the body of an SNS email")
            })?,
            "SNS email body",
        ),
    };
    let message = match value.get("Type").and_then(Value::as_str) {
        Some("Notification") => {
            if format == "SES notification" {
                format = "SNS envelope";
            }
            let inner = value
                .get("Message")
                .and_then(Value::as_str)
                .ok_or_else(|| refuse("is an SNS message without a Message"))?;
            serde_json::from_str::<Value>(inner)
                .map_err(|_| refuse("is an SNS message whose Message is not an SES notification (not JSON)"))?
        }
        Some("SubscriptionConfirmation") => {
            return Err(refuse(
                "is an SNS subscription confirmation, not a notification: open its SubscribeURL to confirm",
            ))
        }
        _ => value,
    };
    explain_ses(&message, format)
}

/// The first JSON object in `text` that parses, ignoring what follows it.
fn first_object(text: &str) -> Option<Value> {
    text.match_indices('{').find_map(|(at, _)| {
        let mut stream = serde_json::Deserializer::from_str(&text[at..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(v @ Value::Object(_))) => Some(v),
            _ => None,
        }
    })
}

fn s(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn explain_ses(n: &Value, format: &'static str) -> Result<Explanation, Error> {
    let (kind, source) = match (s(n, "notificationType"), s(n, "eventType")) {
        (Some(k), _) => (k, "notification"),
        (None, Some(k)) => (k, "event"),
        (None, None) => {
            return Err(Error::invalid(
                "notification",
                "has neither notificationType nor eventType: it is not an SES notification",
            ))
        }
    };
    let mut x = Explanation {
        format,
        source,
        summary: String::new(),
        details: Vec::new(),
        recipients: Vec::new(),
        mail: mail(n.get("mail").unwrap_or(&Value::Null)),
        advice: Vec::new(),
        kind: kind.clone(),
    };
    let detail = |x: &mut Explanation, name: &'static str, value: Option<String>| {
        if let Some(value) = value {
            x.details.push(Detail { name, value });
        }
    };
    let body = |key: &str| n.get(key).cloned().unwrap_or(Value::Null);
    match kind.as_str() {
        "Bounce" => {
            let b = body("bounce");
            let (ty, sub) = (
                s(&b, "bounceType").unwrap_or_else(|| "Undetermined".into()),
                s(&b, "bounceSubType").unwrap_or_default(),
            );
            detail(&mut x, "bounce type", Some(ty.clone()));
            detail(&mut x, "bounce subtype", Some(sub.clone()).filter(|s| !s.is_empty()));
            detail(&mut x, "timestamp", s(&b, "timestamp"));
            detail(&mut x, "reporting MTA", s(&b, "reportingMTA"));
            detail(&mut x, "remote MTA IP", s(&b, "remoteMtaIp"));
            detail(&mut x, "feedback id", s(&b, "feedbackId"));
            let advice = bounce_advice(&ty, &sub);
            for r in list(&b, "bouncedRecipients") {
                x.recipients.push(Recipient {
                    address: s(r, "emailAddress").unwrap_or_default(),
                    action: s(r, "action"),
                    status: s(r, "status"),
                    diagnostic_code: s(r, "diagnosticCode"),
                    advice: Some(advice.to_string()),
                });
            }
            x.summary = format!("{ty} bounce ({sub}) of {}.", addresses(&x.recipients));
            x.advice.push(advice.to_string());
        }
        "Complaint" => {
            let c = body("complaint");
            let feedback = s(&c, "complaintFeedbackType");
            detail(
                &mut x,
                "feedback type",
                Some(feedback.clone().unwrap_or_else(|| "not given by the receiver".into())),
            );
            detail(&mut x, "user agent", s(&c, "userAgent"));
            detail(&mut x, "complaint subtype", s(&c, "complaintSubType"));
            detail(&mut x, "timestamp", s(&c, "timestamp"));
            detail(&mut x, "arrival date", s(&c, "arrivalDate"));
            detail(&mut x, "feedback id", s(&c, "feedbackId"));
            for r in list(&c, "complainedRecipients") {
                x.recipients
                    .push(Recipient { address: s(r, "emailAddress").unwrap_or_default(), ..Recipient::default() });
            }
            x.summary = format!(
                "Complaint ({}) from {}.",
                feedback.as_deref().unwrap_or("no feedback type"),
                addresses(&x.recipients)
            );
            x.advice.push(match s(&c, "complaintSubType").as_deref() {
                Some("OnAccountSuppressionList") => "suppressed: the address is on the account suppression list, so SES did not send to it; remove it from your list".into(),
                _ => "complaint: the recipient reported the mail as unwanted; stop sending to the address, and check why it was sent".into(),
            });
        }
        "DeliveryDelay" => {
            let d = body("deliveryDelay");
            detail(&mut x, "delay type", s(&d, "delayType"));
            detail(&mut x, "expiration time", s(&d, "expirationTime"));
            detail(&mut x, "timestamp", s(&d, "timestamp"));
            detail(&mut x, "reporting MTA", s(&d, "reportingMTA"));
            for r in list(&d, "delayedRecipients") {
                x.recipients.push(Recipient {
                    address: s(r, "emailAddress").unwrap_or_default(),
                    status: s(r, "status"),
                    diagnostic_code: s(r, "diagnosticCode"),
                    ..Recipient::default()
                });
            }
            x.summary = format!(
                "Delivery to {} delayed ({}).",
                addresses(&x.recipients),
                s(&d, "delayType").unwrap_or_else(|| "no delay type".into())
            );
            x.advice.push(format!(
                "delayed: SES keeps retrying until {}; a bounce follows if it still cannot deliver",
                s(&d, "expirationTime").unwrap_or_else(|| "its expiration time".into())
            ));
        }
        "Reject" => {
            let r = body("reject");
            let reason = s(&r, "reason").unwrap_or_else(|| "not given".into());
            detail(&mut x, "reason", Some(reason.clone()));
            x.summary = format!("SES rejected the mail and did not send it: {reason}.");
            x.advice.push(
                "rejected: SES found a virus in the mail; remove the attachment or content and send again".into(),
            );
        }
        "Rendering Failure" | "RenderingFailure" => {
            let f = body("failure");
            detail(&mut x, "template", s(&f, "templateName"));
            detail(&mut x, "error", s(&f, "errorMessage"));
            x.summary = format!(
                "Template {} could not be rendered: {}.",
                s(&f, "templateName").unwrap_or_else(|| "(unnamed)".into()),
                s(&f, "errorMessage").unwrap_or_else(|| "no error message".into()).trim_end_matches('.')
            );
            x.advice.push("rendering failure: give the template the data it names, or fix the template".into());
        }
        "Delivery" => {
            let d = body("delivery");
            detail(&mut x, "timestamp", s(&d, "timestamp"));
            detail(&mut x, "SMTP response", s(&d, "smtpResponse"));
            detail(&mut x, "reporting MTA", s(&d, "reportingMTA"));
            detail(&mut x, "processing time (ms)", s(&d, "processingTimeMillis"));
            for r in list(&d, "recipients") {
                x.recipients
                    .push(Recipient { address: r.as_str().unwrap_or_default().to_string(), ..Recipient::default() });
            }
            x.summary = format!("Delivered to {}.", addresses(&x.recipients));
        }
        other => {
            x.summary = format!("SES {source} of type {other}.");
        }
    }
    Ok(x)
}

/// What to do about a bounce of this type and subtype (SES developer guide, bounce types).
fn bounce_advice(ty: &str, sub: &str) -> &'static str {
    match (ty, sub) {
        ("Permanent", "Suppressed") => "suppressed: SES did not send, because the address is on the SES global suppression list after an earlier hard bounce; remove the address",
        ("Permanent", "OnAccountSuppressionList") => "suppressed: on the account suppression list, so SES did not send; remove the address, or take it off the list if it works again",
        ("Permanent", _) => "permanent: remove the address; sending to it again hurts the account's reputation",
        ("Transient", "MailboxFull") => "transient: the mailbox is full; retry later, and remove the address if it keeps bouncing",
        ("Transient", "MessageTooLarge") => "transient: the message is too large for the receiver; send a smaller one",
        ("Transient", "ContentRejected" | "AttachmentRejected") => "transient: the receiver refused the content; change it before retrying",
        ("Transient", _) => "transient: retry later; remove the address if it keeps bouncing",
        _ => "undetermined: the receiver did not say why; read the diagnostic code, and treat repeats as permanent",
    }
}

fn list<'a>(v: &'a Value, key: &str) -> Vec<&'a Value> {
    v.get(key).and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default()
}

fn addresses(r: &[Recipient]) -> String {
    match r.len() {
        0 => "no listed recipient".into(),
        _ => r.iter().map(|r| r.address.as_str()).collect::<Vec<_>>().join(", "),
    }
}

fn mail(m: &Value) -> Mail {
    let common = m.get("commonHeaders").cloned().unwrap_or(Value::Null);
    let header = |name: &str| {
        list(m, "headers")
            .into_iter()
            .find(|h| s(h, "name").is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .and_then(|h| s(h, "value"))
    };
    let tag = |name: &str| {
        m.get("tags").and_then(|t| t.get(name)).and_then(|v| v.get(0)).and_then(Value::as_str).map(str::to_string)
    };
    Mail {
        source: s(m, "source"),
        destination: list(m, "destination").into_iter().filter_map(|d| d.as_str().map(str::to_string)).collect(),
        subject: s(&common, "subject").or_else(|| header("Subject")),
        message_id: s(m, "messageId"),
        timestamp: s(m, "timestamp"),
        sending_identity: s(m, "sourceArn").and_then(|a| a.split_once(":identity/").map(|(_, id)| id.to_string())),
        source_ip: s(m, "sourceIp").or_else(|| tag("ses:source-ip")),
        configuration_set: tag("ses:configuration-set"),
        headers_included: m.get("headers").is_some_and(|h| h.as_array().is_some_and(|a| !a.is_empty())),
    }
}

/// The explanation as people read it.
pub fn human(x: &Explanation) -> String {
    let mut out = format!("{} {} ({}): {}\n", x.kind, x.source, x.format, x.summary);
    for d in &x.details {
        out.push_str(&format!("  {}: {}\n", d.name, d.value));
    }
    for r in &x.recipients {
        out.push_str(&format!("  recipient {}\n", r.address));
        for (name, value) in [("action", &r.action), ("status", &r.status), ("diagnostic code", &r.diagnostic_code)] {
            if let Some(v) = value {
                out.push_str(&format!("    {name}: {v}\n"));
            }
        }
    }
    let m = &x.mail;
    out.push_str("  original mail\n");
    let none = || "(not in the notification)".to_string();
    for (name, value) in [
        ("source", m.source.clone()),
        ("destination", Some(m.destination.join(", ")).filter(|d| !d.is_empty())),
        (
            "subject",
            m.subject
                .clone()
                .or_else(|| Some("(headers not included in notifications)".into()).filter(|_| !m.headers_included)),
        ),
        ("message id", m.message_id.clone()),
        ("timestamp", m.timestamp.clone()),
        ("sending identity", m.sending_identity.clone()),
        ("source IP", m.source_ip.clone()),
        ("configuration set", m.configuration_set.clone()),
    ] {
        out.push_str(&format!("    {name}: {}\n", value.unwrap_or_else(none)));
    }
    for a in &x.advice {
        out.push_str(&format!("What to do: {a}.\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!("../tests/fixtures/notifications/", $name))
        };
    }

    fn detail(x: &Explanation, name: &str) -> String {
        x.details.iter().find(|d| d.name == name).map(|d| d.value.clone()).unwrap_or_default()
    }

    #[test]
    fn a_permanent_general_bounce_with_headers() {
        let x = explain(fixture!("bounce-permanent-general.json")).unwrap();
        assert_eq!((x.format, x.source, x.kind.as_str()), ("SES notification", "notification", "Bounce"));
        assert_eq!((detail(&x, "bounce type"), detail(&x, "bounce subtype")), ("Permanent".into(), "General".into()));
        let r = &x.recipients[0];
        assert_eq!(r.address, "jane@example.com");
        assert_eq!((r.action.as_deref(), r.status.as_deref()), (Some("failed"), Some("5.1.1")));
        assert_eq!(r.diagnostic_code.as_deref(), Some("smtp; 550 5.1.1 user unknown"));
        assert!(x.advice[0].starts_with("permanent: remove the address"), "{:?}", x.advice);
        let m = &x.mail;
        assert_eq!(m.subject.as_deref(), Some("Your application was received"));
        assert_eq!(m.sending_identity.as_deref(), Some("open-contracting.org"));
        assert_eq!(m.configuration_set.as_deref(), Some("credere"));
        assert_eq!(m.source_ip.as_deref(), Some("203.0.113.10"));
        assert_eq!(m.destination, ["jane@example.com"]);
        assert!(m.headers_included);
    }

    #[test]
    fn a_suppressed_bounce_without_headers() {
        let x = explain(fixture!("bounce-permanent-suppressed.json")).unwrap();
        assert_eq!(detail(&x, "bounce subtype"), "Suppressed");
        assert!(x.advice[0].starts_with("suppressed:"), "{:?}", x.advice);
        assert_eq!(x.mail.sending_identity.as_deref(), Some("noreply@open-contracting.org"));
        assert_eq!(x.mail.subject, None);
        assert!(!x.mail.headers_included);
        assert!(human(&x).contains("subject: (headers not included in notifications)"), "{}", human(&x));
        assert_eq!(
            bounce_advice("Permanent", "OnAccountSuppressionList"),
            "suppressed: on the account suppression list, so SES did not send; remove the address, or take it off the list if it works again"
        );
    }

    #[test]
    fn a_transient_bounce_is_retried() {
        let x = explain(fixture!("bounce-transient.json")).unwrap();
        assert!(x.advice[0].starts_with("transient:"), "{:?}", x.advice);
        assert_eq!(x.recipients[0].status.as_deref(), Some("4.2.2"));
        assert_eq!(x.mail.destination.len(), 2);
    }

    #[test]
    fn a_complaint_from_an_sns_email_body() {
        let x = explain(fixture!("sns-email-complaint.txt")).unwrap();
        assert_eq!((x.format, x.kind.as_str()), ("SNS email body", "Complaint"));
        assert_eq!(detail(&x, "feedback type"), "abuse");
        assert_eq!(detail(&x, "user agent"), "ExampleCorp Feedback Loop (V0.01)");
        assert_eq!(x.recipients[0].address, "angry@example.org");
        assert_eq!(x.mail.subject.as_deref(), Some("Monthly newsletter"));
    }

    #[test]
    fn a_bounce_in_an_sns_envelope() {
        let x = explain(fixture!("sns-envelope-bounce.json")).unwrap();
        assert_eq!((x.format, x.kind.as_str()), ("SNS envelope", "Bounce"));
        assert_eq!(x.mail.message_id.as_deref(), Some("0100017e12345678-deadbeef-1234-4c5d-8e9f-0123456789ab-000000"));
    }

    #[test]
    fn a_delivery_delay_event() {
        let x = explain(fixture!("delivery-delay-event.json")).unwrap();
        assert_eq!((x.source, x.kind.as_str()), ("event", "DeliveryDelay"));
        assert_eq!(detail(&x, "delay type"), "TransientCommunicationFailure");
        assert_eq!(detail(&x, "expiration time"), "2024-03-15T23:59:59.000Z");
        assert_eq!(x.mail.source_ip.as_deref(), Some("203.0.113.10"), "from the ses:source-ip tag");
        assert!(x.advice[0].contains("2024-03-15T23:59:59.000Z"));
    }

    #[test]
    fn a_reject_and_a_rendering_failure() {
        let x = explain(fixture!("reject-event.json")).unwrap();
        assert_eq!(detail(&x, "reason"), "Bad content");
        assert_eq!(x.mail.subject.as_deref(), Some("Invoice attached"));
        let x = explain(fixture!("rendering-failure-event.json")).unwrap();
        assert_eq!(detail(&x, "template"), "ApplicationReceived");
        assert!(x.summary.contains("applicant_name"), "{}", x.summary);
        assert_eq!(x.mail.configuration_set.as_deref(), Some("credere"));
    }

    #[test]
    fn what_is_not_a_notification_is_refused() {
        for text in ["", "hello", "{\"a\": 1}", "{\"Type\": \"Notification\", \"Message\": \"plain text\"}"] {
            assert!(matches!(explain(text), Err(Error::Invalid(_))), "{text:?}");
        }
        let confirmation = "{\"Type\": \"SubscriptionConfirmation\", \"SubscribeURL\": \"https://x\"}";
        assert!(explain(confirmation).unwrap_err().to_string().contains("SubscribeURL"));
    }
}
