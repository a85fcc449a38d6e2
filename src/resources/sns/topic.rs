//! `sns.topic`: a standard SNS topic, its subscriptions, and the topic policy that lets SES publish
//! notifications to it (runbook row 9). A subscription AWS reports as pending confirmation is never
//! subscribed again: that would send the confirmation mail again on every run.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::common_spec;
use crate::error::{AwsResult, Error, Invalid};
use crate::kind::{Cx, Diff, Ensure, Exported, Kind, Listed, Referrer};
use crate::resources::iam::document;
use crate::resources::ses::wait_for;
use crate::resources::sns::topic_name;
use crate::validate;

pub struct Topic;

/// The `Sid` of the statement that lets SES publish; the tool manages that statement alone unless
/// a whole `policy` is given.
pub const SES_SID: &str = "AllowSESPublish";
/// What `ListSubscriptionsByTopic` says instead of an ARN while the endpoint has not confirmed.
const PENDING: &str = "PendingConfirmation";
/// The longest display name SNS accepts.
const MAX_DISPLAY_NAME: usize = 100;

// ---- spec ----------------------------------------------------------------------------------

/// A standard SNS topic. The Pillar key is the topic name, e.g. `data-open-contracting-org`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub ensure: Ensure,
    /// Region of the topic (default: the Pillar's `region`). SES identities and configuration sets
    /// of this Pillar that name the topic must be in the same region.
    #[serde(default)]
    pub region: Option<String>,
    /// The topic's display name (the sender name of its email notifications). Left out: not managed.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Subscriptions that must exist: `{email: ADDRESS}` or `{protocol: PROTOCOL, endpoint: ENDPOINT}`.
    /// A subscription pending confirmation is reported, never subscribed again. Left out: not managed.
    #[serde(default)]
    pub subscriptions: Option<Vec<Subscription>>,
    /// Unsubscribe confirmed subscriptions that are not listed (default false: leave them alone).
    /// AWS cannot unsubscribe a pending one; it expires after three days.
    #[serde(default)]
    pub exclusive_subscriptions: bool,
    /// Wait up to this long (e.g. `10m`) until every listed subscription is confirmed, showing
    /// progress on stderr. Left out: do not wait.
    #[serde(default)]
    pub wait_confirmed: Option<String>,
    /// The whole topic policy (a mapping, or a JSON string), compared by meaning. The statement that
    /// lets SES publish is added to it. Left out: only that statement is managed, and the rest of
    /// the policy is left as AWS has it.
    #[serde(default)]
    pub policy: Option<Value>,
    /// SES senders allowed to publish to the topic, as `identity/NAME` or `configuration-set/NAME`
    /// in the topic's region and account. The identities and configuration sets of this Pillar
    /// that send to the topic are added by themselves.
    #[serde(default)]
    pub ses_publishers: Vec<String>,
}
common_spec!(Spec);

/// One subscription: `{email: ADDRESS}` or `{protocol, endpoint}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// An email address that receives the notifications (protocol `email`).
    #[serde(default)]
    pub email: Option<String>,
    /// `email`, `email-json`, `http`, `https`, `sqs`, `sms`, `lambda`, `firehose` or `application`.
    #[serde(default)]
    pub protocol: Option<String>,
    /// Where the protocol delivers: an address, URL, phone number or ARN.
    #[serde(default)]
    pub endpoint: Option<String>,
}

const PROTOCOLS: [&str; 9] =
    ["email", "email-json", "http", "https", "sqs", "sms", "lambda", "firehose", "application"];

impl Subscription {
    /// `(protocol, endpoint)`; `None` for one `check` refuses.
    fn key(&self) -> Option<(String, String)> {
        match (&self.email, &self.protocol, &self.endpoint) {
            (Some(e), None, None) => Some(("email".into(), e.clone())),
            (None, Some(p), Some(e)) => Some((p.clone(), e.clone())),
            _ => None,
        }
    }
}

impl Spec {
    fn desired_subscriptions(&self) -> BTreeSet<(String, String)> {
        self.subscriptions.iter().flatten().filter_map(Subscription::key).collect()
    }
}

/// Records that `publisher` (`identity/NAME` or `configuration-set/NAME`) sends to the topic, in its
/// spec and in its Pillar `params`, so that the topic run alone (a Salt state) knows it too.
pub fn add_publisher(spec: &mut Spec, params: &mut Value, publisher: String) {
    if spec.ses_publishers.contains(&publisher) {
        return;
    }
    spec.ses_publishers.push(publisher.clone());
    if let Value::Object(map) = params {
        let list = map.entry("ses_publishers").or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(items) = list {
            items.push(Value::String(publisher));
        }
    }
}

/// The policy AWS gives a new topic: the owner account may do everything.
fn default_policy(arn: &str, owner: &str) -> Value {
    json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                       "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                       "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
            "Resource": arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": owner}}
        }]
    })
}

/// The statement that lets SES publish for exactly these senders of the owner account, and nothing more.
fn ses_statement(arn: &str, owner: &str, publishers: &[String]) -> Value {
    let region = arn.split(':').nth(3).unwrap_or_default();
    let partition = crate::aws::partition(region);
    let mut sources: Vec<String> =
        publishers.iter().map(|p| format!("arn:{partition}:ses:{region}:{owner}:{p}")).collect();
    sources.sort();
    json!({
        "Sid": SES_SID,
        "Effect": "Allow",
        "Principal": {"Service": "ses.amazonaws.com"},
        "Action": "SNS:Publish",
        "Resource": arn,
        "Condition": {"StringEquals": {"aws:SourceAccount": owner}, "ArnLike": {"aws:SourceArn": sources}}
    })
}

/// The policy the topic must have, given what it has now (`current`, or AWS's default): the Pillar
/// policy or the current one, without any SES statement, plus the SES statement for the publishers.
/// `None` when the policy is not managed at all.
fn desired_policy(spec: &Spec, arn: &str, owner: &str, current: Option<&Value>) -> Option<Value> {
    let given = spec.policy.as_ref().and_then(|p| document::from_pillar(p).ok());
    if given.is_none() && spec.ses_publishers.is_empty() && !current.is_some_and(has_ses_statement) {
        return None;
    }
    let mut doc = given.or_else(|| current.cloned()).unwrap_or_else(|| default_policy(arn, owner));
    let mut statements: Vec<Value> = match doc.get("Statement") {
        Some(Value::Array(s)) => s.clone(),
        Some(one) => vec![one.clone()],
        None => Vec::new(),
    };
    statements.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(SES_SID));
    if !spec.ses_publishers.is_empty() {
        statements.push(ses_statement(arn, owner, &spec.ses_publishers));
    }
    doc["Statement"] = Value::Array(statements);
    Some(doc)
}

fn has_ses_statement(policy: &Value) -> bool {
    match policy.get("Statement") {
        Some(Value::Array(s)) => s.iter().any(|s| s.get("Sid").and_then(Value::as_str) == Some(SES_SID)),
        Some(one) => one.get("Sid").and_then(Value::as_str) == Some(SES_SID),
        None => false,
    }
}

// ---- read ----------------------------------------------------------------------------------

/// What SNS reports about a topic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observed {
    pub arn: String,
    /// The account that owns the topic.
    pub owner: String,
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<Value>,
    pub subscriptions: Vec<ObservedSubscription>,
}

/// One subscription as SNS lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObservedSubscription {
    pub protocol: String,
    pub endpoint: String,
    /// Waiting for the endpoint to confirm (e.g. the link in the confirmation mail).
    pub pending: bool,
    #[serde(skip)]
    pub arn: String,
}

impl Observed {
    fn keys(&self) -> BTreeSet<(String, String)> {
        self.subscriptions.iter().map(|s| (s.protocol.clone(), s.endpoint.clone())).collect()
    }
}

fn label((protocol, endpoint): &(String, String)) -> String {
    format!("{protocol}:{endpoint}")
}

impl Kind for Topic {
    const KIND: &'static str = "sns.topic";
    const NOUN: &'static str = "SNS topic";
    type Spec = Spec;
    type Observed = Observed;

    fn check(name: &str, spec: &Spec, path: &str, errors: &mut Vec<Invalid>) {
        topic_name(name, path, errors);
        if name.ends_with(".fifo") {
            errors.push(Invalid::new(path, "SES publishes only to standard topics, not FIFO ones (.fifo)"));
        }
        if let Some(d) = &spec.display_name {
            if d.chars().count() > MAX_DISPLAY_NAME {
                errors.push(Invalid::new(
                    format!("{path}.display_name"),
                    format!("is longer than {MAX_DISPLAY_NAME} characters"),
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for (i, s) in spec.subscriptions.iter().flatten().enumerate() {
            let at = format!("{path}.subscriptions[{i}]");
            match (&s.email, &s.protocol, &s.endpoint) {
                (Some(e), None, None) => validate::email(e, &format!("{at}.email"), errors),
                (None, Some(p), Some(e)) => {
                    if !PROTOCOLS.contains(&p.as_str()) {
                        errors.push(Invalid::new(
                            format!("{at}.protocol"),
                            format!("{} is not one of {}", validate::quote(p), PROTOCOLS.join(", ")),
                        ));
                    } else if p.starts_with("email") {
                        validate::email(e, &format!("{at}.endpoint"), errors);
                    } else if e.is_empty() {
                        errors.push(Invalid::new(format!("{at}.endpoint"), "is empty"));
                    }
                }
                _ => errors.push(Invalid::new(at.clone(), "give either `email`, or `protocol` and `endpoint`")),
            }
            if let Some(key) = s.key() {
                if !seen.insert(key.clone()) {
                    errors.push(Invalid::new(at, format!("{} is listed twice", label(&key))));
                }
            }
        }
        if let Some(w) = &spec.wait_confirmed {
            if let Err(e) = validate::duration(w) {
                errors.push(Invalid::new(format!("{path}.wait_confirmed"), e));
            }
            if spec.subscriptions.is_none() {
                errors.push(Invalid::new(format!("{path}.wait_confirmed"), "needs subscriptions"));
            }
        }
        if let Some(p) = &spec.policy {
            if let Err(e) = document::from_pillar(p) {
                errors.push(Invalid::new(format!("{path}.policy"), e));
            }
        }
        for (i, p) in spec.ses_publishers.iter().enumerate() {
            let ok = ["identity/", "configuration-set/"]
                .iter()
                .any(|prefix| p.strip_prefix(prefix).is_some_and(|n| !n.is_empty() && !n.contains(['/', '*', ' '])));
            if !ok {
                errors.push(Invalid::new(
                    format!("{path}.ses_publishers[{i}]"),
                    format!("{} is not identity/NAME or configuration-set/NAME", validate::quote(p)),
                ));
            }
        }
    }

    fn referenced_by(spec: &mut Spec, params: &mut Value, from: &Referrer) -> Result<(), String> {
        let region = spec.region.as_deref().unwrap_or(crate::aws::DEFAULT_REGION);
        if region != from.region {
            return Err(format!(
                "names an SNS topic in {region}, but a topic named by its Pillar entry is looked up in the \
                 sender's own region, {}: give its ARN, or move one of them",
                from.region
            ));
        }
        let publisher = match from.kind {
            "ses.configuration_set" => format!("configuration-set/{}", from.name),
            "ses.domain_identity" | "ses.email_identity" => format!("identity/{}", from.name),
            _ => return Ok(()),
        };
        add_publisher(spec, params, publisher);
        Ok(())
    }

    async fn read(cx: &Cx<'_>, name: &str, _spec: &Spec) -> Result<Option<Observed>, Error> {
        let arn = crate::resources::sns::topic_arn(cx, name).await?;
        read_arn(cx, &arn).await
    }

    // ---- diff ----------------------------------------------------------------------------------

    fn diff(_name: &str, spec: &Spec, observed: Option<&Observed>) -> Diff {
        let desired = spec.desired_subscriptions();
        let Some(o) = observed else {
            let mut d = Diff::creating();
            if let Some(dn) = &spec.display_name {
                d.set("display_name", (), dn);
            }
            if spec.subscriptions.is_some() {
                d.set("subscriptions", (), desired.iter().map(label).collect::<Vec<_>>());
            }
            if spec.policy.is_some() || !spec.ses_publishers.is_empty() {
                d.set("ses_publishers", (), sorted(&spec.ses_publishers));
            }
            return d;
        };
        let mut d = Diff::default();
        d.compare("display_name", spec.display_name.as_ref(), &o.display_name);
        if spec.subscriptions.is_some() || spec.exclusive_subscriptions {
            let have = o.keys();
            let missing: Vec<_> = desired.difference(&have).cloned().collect();
            let extra: Vec<&ObservedSubscription> = match spec.exclusive_subscriptions {
                true => o
                    .subscriptions
                    .iter()
                    .filter(|s| !desired.contains(&(s.protocol.clone(), s.endpoint.clone())))
                    .collect(),
                false => Vec::new(),
            };
            let removable: Vec<_> = extra.iter().filter(|s| !s.pending).collect();
            if !missing.is_empty() || !removable.is_empty() {
                let after: BTreeSet<_> = match spec.exclusive_subscriptions {
                    true => desired
                        .iter()
                        .cloned()
                        .chain(extra.iter().filter(|s| s.pending).map(|s| (s.protocol.clone(), s.endpoint.clone())))
                        .collect(),
                    false => have.union(&desired).cloned().collect(),
                };
                d.set(
                    "subscriptions",
                    have.iter().map(label).collect::<Vec<_>>(),
                    after.iter().map(label).collect::<Vec<_>>(),
                );
            }
            let pending: Vec<String> = o
                .subscriptions
                .iter()
                .filter(|s| s.pending && desired.contains(&(s.protocol.clone(), s.endpoint.clone())))
                .map(|s| s.endpoint.clone())
                .collect();
            if !pending.is_empty() {
                d.notes.push(format!(
                    "Pending confirmation (not subscribed again; the confirmation was sent): {}.",
                    pending.join(", ")
                ));
            }
            let stuck: Vec<&str> = extra.iter().filter(|s| s.pending).map(|s| s.endpoint.as_str()).collect();
            if !stuck.is_empty() {
                d.notes.push(format!(
                    "Not in Pillar but pending confirmation, which AWS cannot unsubscribe (it expires after three days): {}.",
                    stuck.join(", ")
                ));
            }
        }
        if let Some(want) = desired_policy(spec, &o.arn, &o.owner, o.policy.as_ref()) {
            let same = o.policy.as_ref().is_some_and(|have| document::same(have, &want));
            if !same {
                d.set("policy", &o.policy, want);
            }
        }
        d
    }

    // ---- apply ---------------------------------------------------------------------------------

    async fn apply(
        cx: &Cx<'_>,
        name: &str,
        spec: &Spec,
        observed: Option<&Observed>,
        diff: &mut Diff,
    ) -> Result<(), Error> {
        let sns = cx.sns();
        let created;
        let o = match observed {
            Some(o) => o,
            None => {
                let mut create = sns.create_topic().name(name);
                if let Some(dn) = &spec.display_name {
                    create = create.attributes("DisplayName", dn);
                }
                let arn = create.send().await.op("CreateTopic")?.topic_arn.unwrap_or_default();
                created = read_arn(cx, &arn)
                    .await?
                    .ok_or_else(|| Error::Refused(format!("SNS created topic {name} but does not find it")))?;
                &created
            }
        };
        if observed.is_some() && diff.has("display_name") {
            if let Some(dn) = &spec.display_name {
                set_attribute(cx, &o.arn, "DisplayName", dn).await?;
            }
        }
        if let Some(want) = desired_policy(spec, &o.arn, &o.owner, o.policy.as_ref()) {
            if !o.policy.as_ref().is_some_and(|have| document::same(have, &want)) {
                set_attribute(cx, &o.arn, "Policy", &want.to_string()).await?;
            }
        }
        let desired = spec.desired_subscriptions();
        let have = o.keys();
        for (protocol, endpoint) in desired.difference(&have) {
            sns.subscribe().topic_arn(&o.arn).protocol(protocol).endpoint(endpoint).send().await.op("Subscribe")?;
            if protocol.starts_with("email") {
                diff.notes.push(format!("SNS sent a confirmation mail to {endpoint}: open its link to confirm."));
            }
        }
        if spec.exclusive_subscriptions {
            for s in o.subscriptions.iter().filter(|s| !s.pending) {
                if !desired.contains(&(s.protocol.clone(), s.endpoint.clone())) {
                    sns.unsubscribe().subscription_arn(&s.arn).send().await.none_if("Unsubscribe", &["NotFound"])?;
                }
            }
        }
        Ok(())
    }

    async fn settle(cx: &Cx<'_>, name: &str, spec: &Spec, observed: &Observed) -> Result<Option<Observed>, Error> {
        let Some(limit) = spec.wait_confirmed.as_deref().and_then(|w| validate::duration(w).ok()) else {
            return Ok(None);
        };
        let desired = spec.desired_subscriptions();
        let pending = |o: &Observed| -> Result<Vec<String>, Error> {
            Ok(o.subscriptions
                .iter()
                .filter(|s| s.pending && desired.contains(&(s.protocol.clone(), s.endpoint.clone())))
                .map(|s| format!("the confirmation of {}", s.endpoint))
                .collect())
        };
        if pending(observed)?.is_empty() {
            return Ok(None);
        }
        let what = format!("SNS topic {name}");
        let arn = observed.arn.clone();
        let settled = wait_for(
            &what,
            limit,
            async || read_arn(cx, &arn).await?.ok_or_else(|| Error::Refused(format!("{what} disappeared"))),
            pending,
        )
        .await?;
        Ok(Some(settled))
    }

    // ---- delete --------------------------------------------------------------------------------

    async fn delete(cx: &Cx<'_>, _name: &str, _spec: &Spec, observed: &Observed) -> Result<(), Error> {
        cx.sns().delete_topic().topic_arn(&observed.arn).send().await.none_if("DeleteTopic", &["NotFound"])?;
        Ok(())
    }

    // ---- export --------------------------------------------------------------------------------

    async fn list(cx: &Cx<'_>) -> Result<Listed, Error> {
        let topics: Vec<aws_sdk_sns::types::Topic> =
            cx.sns().list_topics().into_paginator().items().send().try_collect().await.op("ListTopics")?;
        let mut listed = Listed::default();
        for name in topics.iter().filter_map(|t| t.topic_arn()?.rsplit(':').next()) {
            match name.ends_with(".fifo") {
                true => listed.skipped.push(format!(
                    "SNS topic {name} in {} is a FIFO topic: Pillar manages standard topics, the kind SES publishes to",
                    cx.region()
                )),
                false => listed.names.push(name.to_string()),
            }
        }
        listed.names.sort();
        Ok(listed)
    }

    /// Confirmed subscriptions only: a pending one is the endpoint's to confirm, not Pillar's to ask
    /// for again. The SES senders the policy lets publish stay in `ses_publishers`.
    fn export(_name: &str, o: &Observed, _secret_dir: &str) -> Exported {
        let mut e = Exported::default();
        if !o.display_name.is_empty() {
            e.set("display_name", &o.display_name);
        }
        let mut subscriptions = Vec::new();
        for s in &o.subscriptions {
            match (s.pending, s.protocol.as_str()) {
                (true, _) => {
                    e.comments.push(format!("{}:{} is pending confirmation (not exported)", s.protocol, s.endpoint))
                }
                (false, "email") => subscriptions.push(json!({"email": s.endpoint})),
                (false, p) => subscriptions.push(json!({"protocol": p, "endpoint": s.endpoint})),
            }
        }
        subscriptions.sort_by_key(Value::to_string);
        if !subscriptions.is_empty() {
            e.set("subscriptions", subscriptions);
        }
        let publishers = o.policy.as_ref().map(ses_publishers).unwrap_or_default();
        if !publishers.is_empty() {
            e.set("ses_publishers", publishers);
        }
        e
    }
}

/// The senders (`identity/NAME`, `configuration-set/NAME`) the policy's SES statement names.
fn ses_publishers(policy: &Value) -> Vec<String> {
    let statements = match policy.get("Statement") {
        Some(Value::Array(s)) => s.clone(),
        Some(one) => vec![one.clone()],
        None => Vec::new(),
    };
    let sources = statements
        .iter()
        .filter(|s| s.get("Sid").and_then(Value::as_str) == Some(SES_SID))
        .filter_map(|s| s.pointer("/Condition/ArnLike/aws:SourceArn").cloned());
    let mut out: Vec<String> = sources
        .flat_map(|v| match v {
            Value::Array(items) => items,
            one => vec![one],
        })
        .filter_map(|a| Some(a.as_str()?.splitn(6, ':').nth(5)?.to_string()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Reads a topic by ARN; `None` when SNS does not have it.
async fn read_arn(cx: &Cx<'_>, arn: &str) -> Result<Option<Observed>, Error> {
    let sns = cx.sns();
    let Some(out) =
        sns.get_topic_attributes().topic_arn(arn).send().await.none_if("GetTopicAttributes", &["NotFound"])?
    else {
        return Ok(None);
    };
    let attributes = out.attributes.unwrap_or_default();
    let policy = match attributes.get("Policy").filter(|p| !p.is_empty()) {
        Some(text) => Some(
            serde_json::from_str(text)
                .map_err(|e| Error::Refused(format!("SNS returned a topic policy that is not JSON: {e}")))?,
        ),
        None => None,
    };
    let listed: Vec<aws_sdk_sns::types::Subscription> = match sns
        .list_subscriptions_by_topic()
        .topic_arn(arn)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .none_if("ListSubscriptionsByTopic", &["NotFound"])?
    {
        Some(listed) => listed,
        None => return Ok(None),
    };
    let mut subscriptions: Vec<ObservedSubscription> = listed
        .into_iter()
        .map(|s| {
            let arn = s.subscription_arn.unwrap_or_default();
            ObservedSubscription {
                protocol: s.protocol.unwrap_or_default(),
                endpoint: s.endpoint.unwrap_or_default(),
                pending: arn == PENDING,
                arn,
            }
        })
        .collect();
    subscriptions.sort_by(|a, b| (&a.protocol, &a.endpoint).cmp(&(&b.protocol, &b.endpoint)));
    Ok(Some(Observed {
        arn: arn.to_string(),
        owner: attributes.get("Owner").cloned().unwrap_or_else(|| arn.split(':').nth(4).unwrap_or_default().into()),
        display_name: attributes.get("DisplayName").cloned().unwrap_or_default(),
        policy,
        subscriptions,
    }))
}

async fn set_attribute(cx: &Cx<'_>, arn: &str, attribute: &str, value: &str) -> Result<(), Error> {
    cx.sns()
        .set_topic_attributes()
        .topic_arn(arn)
        .attribute_name(attribute)
        .attribute_value(value)
        .send()
        .await
        .op("SetTopicAttributes")?;
    Ok(())
}

fn sorted(items: &[String]) -> Vec<String> {
    let mut v = items.to_vec();
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:sns:eu-west-2:123456789012:t";
    const OWNER: &str = "123456789012";

    fn sub(email: &str) -> Subscription {
        Subscription { email: Some(email.into()), ..Subscription::default() }
    }

    fn seen(endpoint: &str, pending: bool) -> ObservedSubscription {
        ObservedSubscription {
            protocol: "email".into(),
            endpoint: endpoint.into(),
            pending,
            arn: if pending { PENDING.into() } else { format!("{ARN}:{endpoint}") },
        }
    }

    fn observed(subscriptions: Vec<ObservedSubscription>, policy: Option<Value>) -> Observed {
        Observed { arn: ARN.into(), owner: OWNER.into(), display_name: String::new(), policy, subscriptions }
    }

    fn spec(subscriptions: &[&str]) -> Spec {
        Spec { subscriptions: Some(subscriptions.iter().map(|s| sub(s)).collect()), ..Spec::default() }
    }

    #[test]
    fn a_pending_subscription_is_reported_and_not_subscribed_again() {
        let d = Topic::diff("t", &spec(&["a@example.org"]), Some(&observed(vec![seen("a@example.org", true)], None)));
        assert!(d.is_empty(), "{:?}", d.fields);
        assert!(d.notes[0].contains("Pending confirmation") && d.notes[0].contains("a@example.org"), "{:?}", d.notes);
    }

    #[test]
    fn missing_subscriptions_are_added_and_others_left_alone_unless_exclusive() {
        let o = observed(vec![seen("other@example.org", false), seen("stuck@example.org", true)], None);
        let d = Topic::diff("t", &spec(&["a@example.org"]), Some(&o));
        assert_eq!(
            d.fields[0].new,
            json!(["email:a@example.org", "email:other@example.org", "email:stuck@example.org"])
        );
        let mut s = spec(&["a@example.org"]);
        s.exclusive_subscriptions = true;
        let d = Topic::diff("t", &s, Some(&o));
        assert_eq!(d.fields[0].new, json!(["email:a@example.org", "email:stuck@example.org"]));
        assert!(d.notes.iter().any(|n| n.contains("cannot unsubscribe") && n.contains("stuck@example.org")));
        let only_pending_extra = observed(vec![seen("a@example.org", false), seen("stuck@example.org", true)], None);
        assert!(Topic::diff("t", &s, Some(&only_pending_extra)).is_empty());
    }

    #[test]
    fn the_ses_statement_is_scoped_and_compared_by_meaning() {
        let mut s = spec(&[]);
        s.ses_publishers = vec!["identity/example.org".into(), "configuration-set/credere".into()];
        let d = Topic::diff("t", &s, Some(&observed(vec![], Some(default_policy(ARN, OWNER)))));
        assert!(d.has("policy"));
        let want = &d.fields[0].new;
        let statement = &want["Statement"][1];
        assert_eq!(statement["Principal"], json!({"Service": "ses.amazonaws.com"}));
        assert_eq!(statement["Action"], "SNS:Publish");
        assert_eq!(statement["Condition"]["StringEquals"]["aws:SourceAccount"], OWNER);
        assert_eq!(
            statement["Condition"]["ArnLike"]["aws:SourceArn"],
            json!([
                "arn:aws:ses:eu-west-2:123456789012:configuration-set/credere",
                "arn:aws:ses:eu-west-2:123456789012:identity/example.org"
            ])
        );
        // The same document in another shape is no change.
        let mut reshaped = want.clone();
        reshaped["Statement"].as_array_mut().unwrap().reverse();
        assert!(Topic::diff("t", &s, Some(&observed(vec![], Some(reshaped)))).is_empty());
        // With no publisher left, the SES statement goes and the rest stays.
        let d = Topic::diff("t", &spec(&[]), Some(&observed(vec![], Some(want.clone()))));
        assert!(document::same(&d.fields[0].new, &default_policy(ARN, OWNER)));
        // Nothing to say about a policy nobody manages.
        assert!(Topic::diff("t", &spec(&[]), Some(&observed(vec![], Some(default_policy(ARN, OWNER))))).is_empty());
    }

    #[test]
    fn a_pillar_policy_is_the_whole_policy_plus_the_ses_statement() {
        let mut s = spec(&[]);
        s.policy = Some(json!({"Version": "2012-10-17", "Statement": []}));
        let d = Topic::diff("t", &s, Some(&observed(vec![], Some(default_policy(ARN, OWNER)))));
        assert_eq!(d.fields[0].new, json!({"Version": "2012-10-17", "Statement": []}));
        s.ses_publishers = vec!["identity/example.org".into()];
        let d = Topic::diff("t", &s, Some(&observed(vec![], Some(default_policy(ARN, OWNER)))));
        assert_eq!(d.fields[0].new["Statement"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn publishers_are_added_once_to_spec_and_params() {
        let mut s = Spec::default();
        let mut params = json!({});
        add_publisher(&mut s, &mut params, "identity/example.org".into());
        add_publisher(&mut s, &mut params, "identity/example.org".into());
        assert_eq!(s.ses_publishers, ["identity/example.org"]);
        assert_eq!(params, json!({"ses_publishers": ["identity/example.org"]}));
    }

    #[test]
    fn checks() {
        let mut e = Vec::new();
        let s = Spec {
            display_name: Some("x".repeat(101)),
            subscriptions: Some(vec![
                sub("not-an-address"),
                Subscription { protocol: Some("carrier-pigeon".into()), endpoint: Some("x".into()), email: None },
                Subscription { protocol: Some("https".into()), ..Subscription::default() },
                sub("a@example.org"),
                sub("a@example.org"),
            ]),
            wait_confirmed: Some("soon".into()),
            policy: Some(json!({"Version": "2012-10-17"})),
            ses_publishers: vec!["identity/".into()],
            ..Spec::default()
        };
        Topic::check("bad name", &s, "p", &mut e);
        let paths: Vec<&str> = e.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "p",
                "p.display_name",
                "p.subscriptions[0].email",
                "p.subscriptions[1].protocol",
                "p.subscriptions[2]",
                "p.subscriptions[4]",
                "p.wait_confirmed",
                "p.policy",
                "p.ses_publishers[0]"
            ]
        );
    }
}
