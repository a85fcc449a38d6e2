//! Amazon SNS kinds, and how other kinds name a topic: by its `sns.topics` entry (a reference) or by
//! its ARN.

pub mod topic;

use crate::error::{Error, Invalid};
use crate::kind::{Cx, Ref};
use crate::validate;

/// The kind a topic reference points at.
pub const TOPIC: &str = "sns.topic";

/// A topic named by ARN is used as is; a name is a reference to an `sns.topics` entry.
pub fn is_arn(topic: &str) -> bool {
    topic.starts_with("arn:")
}

/// The reference a topic setting makes, unless it is an ARN.
pub fn topic_ref(topic: &str, field: String) -> Option<Ref> {
    (!is_arn(topic)).then(|| Ref { kind: TOPIC, name: topic.to_string(), field })
}

/// Checks a topic setting: a topic name AWS accepts, or a whole SNS topic ARN.
pub fn check_topic(topic: &str, path: &str, errors: &mut Vec<Invalid>) {
    if is_arn(topic) {
        let parts: Vec<&str> = topic.splitn(6, ':').collect();
        let ok = matches!(parts.as_slice(), [_, p, "sns", region, account, name]
            if !p.is_empty() && !region.is_empty() && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit()) && topic_name_ok(name));
        if !ok {
            errors.push(Invalid::new(
                path,
                format!("{} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)", validate::quote(topic)),
            ));
        }
    } else {
        topic_name(topic, path, errors);
    }
}

/// SNS topic names: 1 to 256 letters, digits, hyphens and underscores (a FIFO topic's ends in `.fifo`).
pub fn topic_name(name: &str, path: &str, errors: &mut Vec<Invalid>) {
    if !topic_name_ok(name) {
        errors.push(Invalid::new(
            path,
            format!(
                "{} is not an SNS topic name: 1 to 256 ASCII letters, digits, hyphens (-) and underscores (_)",
                validate::quote(name)
            ),
        ));
    }
}

fn topic_name_ok(name: &str) -> bool {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    (1..=256).contains(&name.len()) && base.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The ARN of a topic setting: the ARN itself, or the topic of that name in `cx`'s region and account
/// (a topic a Pillar entry names is in the same region as the entry, see `sns.topic`).
pub async fn topic_arn(cx: &Cx<'_>, topic: &str) -> Result<String, Error> {
    if is_arn(topic) {
        return Ok(topic.to_string());
    }
    Ok(arn(cx.region(), &cx.account_id().await?, topic))
}

/// `arn:PARTITION:sns:REGION:ACCOUNT:NAME`
pub fn arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:{}:sns:{region}:{account}:{name}", crate::aws::partition(region))
}

/// Whether two topic settings name one topic: an ARN and a name are compared by the name, within
/// the region and account `arn` (an observed topic ARN) is in.
pub fn same_topic(setting: &str, observed_arn: &str) -> bool {
    if is_arn(setting) {
        setting == observed_arn
    } else {
        observed_arn.rsplit(':').next() == Some(setting) && observed_arn.split(':').nth(2) == Some("sns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_settings_are_names_or_arns() {
        let mut e = Vec::new();
        check_topic("data-open-contracting-org", "a", &mut e);
        check_topic("arn:aws:sns:us-east-1:123456789012:t_1", "b", &mut e);
        assert!(e.is_empty(), "{e:?}");
        check_topic("has space", "c", &mut e);
        check_topic("arn:aws:sqs:us-east-1:123456789012:q", "d", &mut e);
        check_topic(&"x".repeat(257), "e", &mut e);
        let paths: Vec<&str> = e.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["c", "d", "e"]);
        assert!(topic_ref("arn:aws:sns:us-east-1:123456789012:t", "f".into()).is_none());
        assert_eq!(topic_ref("t", "f".into()).unwrap().kind, TOPIC);
    }

    #[test]
    fn a_name_and_its_arn_are_one_topic() {
        let arn = arn("eu-west-2", "123456789012", "t");
        assert_eq!(arn, "arn:aws:sns:eu-west-2:123456789012:t");
        assert!(same_topic("t", &arn) && same_topic(&arn, &arn));
        assert!(!same_topic("u", &arn) && !same_topic("arn:aws:sns:eu-west-2:123456789012:u", &arn));
    }
}
