//! Receiving one address's mail in S3 for a moment (SES v1 receipt rules), as the runbook does to
//! verify an address and to check DMARC: a bucket with a policy that lets SES store for this account
//! and rule only, a rule for exactly that address whose only action is S3 (first in the active rule
//! set, or in its own set activated when none is active), polling the bucket, and a clean-up that
//! puts every receiving setting back as it was, whatever happened. What a run changed is kept in a
//! [`Journal`], so that the clean-up undoes exactly that; what an interrupted run left is recognised
//! by its names and cleaned before a new run starts.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
};
use aws_sdk_ses::types::{ReceiptAction, ReceiptRule, S3Action};
use serde_json::{json, Value};

use crate::aws::{partition, retry_while};
use crate::dns;
use crate::error::{code, AwsResult, Error};
use crate::kind::Cx;
use crate::resources::ses::wait_for;

/// Regions where SES receives mail (AWS's "Email receiving" endpoints list): elsewhere an MX at
/// `inbound-smtp.REGION.amazonaws.com` cannot exist, and receipt rules are refused.
pub const RECEIVING_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "sa-east-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "eu-south-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "us-gov-west-1",
];

/// The runbook's names: the bucket, the rule set and the rule.
pub const DEFAULT_BUCKET: &str = "ocp-aws-verification";
pub const DEFAULT_RULE_SET: &str = "email-address-verification";
pub const DEFAULT_RULE: &str = "deliver-to-s3-bucket";

/// How long objects live in a bucket this tool creates for receiving: they carry tokens.
const EXPIRE_DAYS: i32 = 1;

/// Where and under which names mail is received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    pub bucket: String,
    /// Key prefix of the stored messages, e.g. `verification/`.
    pub prefix: String,
    /// The rule set created (and activated) when no rule set is active.
    pub rule_set: String,
    /// The rule's name, in that set or, as a temporary rule, in the active one.
    pub rule: String,
    /// Leave the own rule set and its rule in place (inactive) after the clean-up.
    pub keep_rule_set: bool,
}

/// What a run changed, so that the clean-up undoes exactly that.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Journal {
    /// The bucket was created by this run.
    pub created_bucket: bool,
    /// The bucket policy holds this tool's statement (added, or found from an interrupted run).
    pub policy_statement: bool,
    /// The rule set the rule was put in (the active set, or the own one).
    pub rule_in: Option<String>,
    /// The own rule set was activated by this run (or found active from an interrupted run).
    pub activated: bool,
    /// Keys of stored messages to delete (read by this run, or left by an interrupted one).
    pub objects: BTreeSet<String>,
}

/// Whether `region` receives mail with SES.
pub fn receives(region: &str) -> bool {
    RECEIVING_REGIONS.contains(&region)
}

/// The SES inbound MX host of `region`.
pub fn inbound_mx(region: &str) -> String {
    format!("inbound-smtp.{region}.amazonaws.com")
}

/// Why mail to `address` cannot be received through SES in the context's region, if it cannot: the
/// region does not receive mail, or the domain's MX is not SES's inbound host there (asked of the
/// run's nameservers, else the system's resolver).
pub async fn not_receivable(cx: &Cx<'_>, address: &str) -> Result<Option<String>, Error> {
    let region = cx.region();
    if !receives(region) {
        return Ok(Some(format!("SES does not receive mail in {region}")));
    }
    let domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or(address);
    let resolver = dns::resolver_for(cx.nameservers())?;
    let inbound = inbound_mx(region);
    let mx = dns::mx(&resolver, domain).await?;
    Ok(match mx.iter().any(|e| e.eq_ignore_ascii_case(&inbound)) {
        true => None,
        false if mx.is_empty() => Some(format!("{domain} has no MX record (SES would need {inbound})")),
        false => Some(format!("the MX of {domain} is {}, not {inbound}", mx.join(", "))),
    })
}

/// The rule's ARN, which the bucket policy names as the only source allowed to store.
fn rule_arn(region: &str, account: &str, rule_set: &str, rule: &str) -> String {
    format!("arn:{}:ses:{region}:{account}:receipt-rule-set/{rule_set}:receipt-rule/{rule}", partition(region))
}

/// The bucket policy statement's id: one per rule name, so that a re-run replaces its own.
fn sid(rule: &str) -> String {
    let alnum: String = rule.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("OcpAwsSesReceiving{alnum}")
}

/// The statement letting SES store objects under the prefix, for this account and rule only.
fn statement(s: &Setup, region: &str, account: &str, rule_set: &str) -> Value {
    json!({
        "Sid": sid(&s.rule),
        "Effect": "Allow",
        "Principal": {"Service": "ses.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": format!("arn:{}:s3:::{}/{}*", partition(region), s.bucket, s.prefix),
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": rule_arn(region, account, rule_set, &s.rule)},
        },
    })
}

/// `policy` with the statement of id `sid` replaced by `add` (or removed when `add` is `None`); the
/// other statements are kept as they are. `None` when no statement is left.
fn merged(policy: Option<&Value>, sid: &str, add: Option<Value>) -> Option<Value> {
    let mut doc = policy.cloned().unwrap_or_else(|| json!({"Version": "2012-10-17", "Statement": []}));
    let mut statements: Vec<Value> = match doc.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    statements.retain(|st| st.get("Sid").and_then(Value::as_str) != Some(sid));
    statements.extend(add);
    if statements.is_empty() {
        return None;
    }
    doc["Statement"] = Value::Array(statements);
    Some(doc)
}

// ---- set up --------------------------------------------------------------------------------

/// The active rule set's name and its rules' names; `None` when no set is active.
async fn active_set(cx: &Cx<'_>) -> Result<Option<(String, Vec<String>)>, Error> {
    let out = cx.ses().describe_active_receipt_rule_set().send().await.op("DescribeActiveReceiptRuleSet")?;
    Ok(out
        .metadata()
        .and_then(|m| m.name())
        .map(|name| (name.to_string(), out.rules().iter().map(|r| r.name().to_string()).collect())))
}

async fn read_policy(cx: &Cx<'_>, bucket: &str) -> Result<Option<Value>, Error> {
    let out =
        cx.s3().get_bucket_policy().bucket(bucket).send().await.none_if("GetBucketPolicy", &["NoSuchBucketPolicy"])?;
    match out.and_then(|o| o.policy) {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Refused(format!("the policy of bucket {bucket} is not JSON: {e}"))),
    }
}

async fn write_policy(cx: &Cx<'_>, bucket: &str, policy: Option<Value>) -> Result<(), Error> {
    match policy {
        Some(doc) => {
            retry_while(&[code::NO_SUCH_BUCKET], || {
                cx.s3().put_bucket_policy().bucket(bucket).policy(doc.to_string()).send()
            })
            .await
            .op("PutBucketPolicy")?;
        }
        None => {
            cx.s3().delete_bucket_policy().bucket(bucket).send().await.op("DeleteBucketPolicy")?;
        }
    }
    Ok(())
}

/// Keys under the prefix.
async fn stored(cx: &Cx<'_>, s: &Setup) -> Result<Vec<String>, Error> {
    // Every page: a new message in a prefix that already holds more than a page (1000) of objects
    // would otherwise never be seen.
    let pages: Vec<_> = cx
        .s3()
        .list_objects_v2()
        .bucket(&s.bucket)
        .prefix(&s.prefix)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .op("ListObjectsV2")?;
    Ok(pages.iter().flat_map(|p| p.contents()).filter_map(|o| o.key().map(str::to_string)).collect())
}

/// The bucket, made when it is missing (objects expire after a day).
async fn ensure_bucket(cx: &Cx<'_>, s: &Setup, journal: &mut Journal) -> Result<(), Error> {
    let found = cx.s3().head_bucket().bucket(&s.bucket).send().await;
    match found {
        Ok(_) => return Ok(()),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {}
        Err(e) => return Err(crate::error::aws_error("HeadBucket", e)),
    }
    crate::resources::s3::create_bucket(cx, &s.bucket).await?;
    journal.created_bucket = true;
    let rule = LifecycleRule::builder()
        .id("expire-received-mail")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .expiration(LifecycleExpiration::builder().days(EXPIRE_DAYS).build())
        .build()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let lifecycle =
        BucketLifecycleConfiguration::builder().rules(rule).build().map_err(|e| Error::Internal(e.to_string()))?;
    retry_while(&[code::NO_SUCH_BUCKET], || {
        cx.s3().put_bucket_lifecycle_configuration().bucket(&s.bucket).lifecycle_configuration(lifecycle.clone()).send()
    })
    .await
    .op("PutBucketLifecycleConfiguration")?;
    Ok(())
}

fn rule(s: &Setup, recipient: &str) -> Result<ReceiptRule, Error> {
    let s3 = S3Action::builder()
        .bucket_name(&s.bucket)
        .object_key_prefix(&s.prefix)
        .build()
        .map_err(|e| Error::Internal(e.to_string()))?;
    ReceiptRule::builder()
        .name(&s.rule)
        .enabled(true)
        .scan_enabled(false)
        .recipients(recipient)
        .actions(ReceiptAction::builder().s3_action(s3).build())
        .build()
        .map_err(|e| Error::Internal(e.to_string()))
}

/// Makes SES store mail to `recipient` under the prefix, recording each change in `journal`.
/// What an interrupted run left (its rule in the active set, its own set active, stored mail) is
/// recorded too, so that the clean-up removes it.
pub async fn set_up(cx: &Cx<'_>, s: &Setup, recipient: &str, journal: &mut Journal) -> Result<(), Error> {
    let account = cx.account_id().await?;
    let ses = cx.ses();
    let active = active_set(cx).await?;
    let target = match &active {
        Some((name, _)) if *name == s.rule_set => {
            // Only a run of this tool activates its own set: none was active before it.
            journal.activated = true;
            s.rule_set.clone()
        }
        Some((name, rules)) => {
            if rules.contains(&s.rule) {
                // An interrupted run's temporary rule: remove it, then add it again first.
                journal.rule_in = Some(name.clone());
                ses.delete_receipt_rule()
                    .rule_set_name(name)
                    .rule_name(&s.rule)
                    .send()
                    .await
                    .op("DeleteReceiptRule")?;
                journal.rule_in = None;
            }
            name.clone()
        }
        None => s.rule_set.clone(),
    };
    ensure_bucket(cx, s, journal).await?;
    journal.objects.extend(stored(cx, s).await?);
    let policy = read_policy(cx, &s.bucket).await?;
    let add = statement(s, cx.region(), &account, &target);
    if let Some(doc) = merged(policy.as_ref(), &sid(&s.rule), Some(add)) {
        if policy.as_ref() != Some(&doc) {
            journal.policy_statement = true;
            write_policy(cx, &s.bucket, Some(doc)).await?;
        } else {
            journal.policy_statement = true;
        }
    }
    if target == s.rule_set {
        ses.create_receipt_rule_set()
            .rule_set_name(&s.rule_set)
            .send()
            .await
            .none_if("CreateReceiptRuleSet", &["AlreadyExists", "AlreadyExistsException"])?;
    }
    let created = ses
        .create_receipt_rule()
        .rule_set_name(&target)
        .rule(rule(s, recipient)?)
        .send()
        .await
        .none_if("CreateReceiptRule", &["AlreadyExists", "AlreadyExistsException"])?;
    journal.rule_in = Some(target.clone());
    if created.is_none() {
        // The own set kept from an earlier run: its rule now covers this address.
        ses.update_receipt_rule()
            .rule_set_name(&target)
            .rule(rule(s, recipient)?)
            .send()
            .await
            .op("UpdateReceiptRule")?;
    }
    if target == s.rule_set && !journal.activated {
        journal.activated = true;
        ses.set_active_receipt_rule_set().rule_set_name(&s.rule_set).send().await.op("SetActiveReceiptRuleSet")?;
    }
    Ok(())
}

// ---- read ----------------------------------------------------------------------------------

/// The object SES writes under an S3 action's prefix when the rule is created, to test that it
/// may write: not a message, but this run's to delete.
const SETUP_NOTIFICATION: &str = "AMAZON_SES_SETUP_NOTIFICATION";

/// Waits up to `limit` for a message under the prefix that was not there before (`journal.objects`
/// holds what was), with progress on stderr; returns its bytes. Its key, and SES's setup
/// notification, are recorded for deletion.
pub async fn receive(cx: &Cx<'_>, s: &Setup, journal: &mut Journal, limit: Duration) -> Result<Vec<u8>, Error> {
    let before = journal.objects.clone();
    let what = format!("the mail SES stores in s3://{}/{}", s.bucket, s.prefix);
    let new = wait_for(
        &what,
        limit,
        async || Ok(stored(cx, s).await?.into_iter().filter(|k| !before.contains(k)).collect::<Vec<_>>()),
        |new: &Vec<String>| match new.iter().any(|k| !k.ends_with(SETUP_NOTIFICATION)) {
            true => Ok(vec![]),
            false => Ok(vec!["a new message".to_string()]),
        },
    )
    .await?;
    journal.objects.extend(new.iter().cloned());
    let key = new.into_iter().find(|k| !k.ends_with(SETUP_NOTIFICATION)).unwrap_or_default();
    let out = cx.s3().get_object().bucket(&s.bucket).key(&key).send().await.op("GetObject")?;
    let body = out
        .body
        .collect()
        .await
        .map_err(|e| Error::Refused(format!("reading the stored message s3://{}/{key} failed: {e}", s.bucket)))?;
    Ok(body.into_bytes().to_vec())
}

/// At most this many redirects are followed from a verification link.
const MAX_REDIRECTS: usize = 5;

/// Opens a verification link with GET, following at most [`MAX_REDIRECTS`] redirects (relative or
/// absolute; the token is only in the first URL), each request bounded in time. Errors name the
/// link's host, never its query.
pub async fn follow(link: &crate::mail::Link) -> Result<(), Error> {
    use aws_smithy_http_client::{tls, Connector};
    use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorSettings};
    use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
    use aws_smithy_types::body::SdkBody;
    let settings = HttpConnectorSettings::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(30))
        .build();
    let connector = Connector::builder()
        .connector_settings(settings)
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
        .build();
    let failed =
        |why: String| Error::Refused(format!("opening the verification link to {} failed: {why}", link.host()));
    let mut url = link.url().to_string();
    for _ in 0..=MAX_REDIRECTS {
        let request = http::Request::get(&url)
            .body(SdkBody::empty())
            .map_err(|_| failed("the link is not a valid URL".into()))?;
        let request = HttpRequest::try_from(request).map_err(|_| failed("the link is not a valid URL".into()))?;
        let response = connector.call(request).await.map_err(|e| failed(crate::error::causes(&e)))?;
        let status = response.status().as_u16();
        match status {
            200..=299 => return Ok(()),
            301 | 302 | 303 | 307 | 308 => {
                let location = response.headers().get("location").unwrap_or_default();
                url = redirect(&url, location)
                    .ok_or_else(|| failed(format!("HTTP {status} without a usable Location")))?;
            }
            _ => return Err(failed(format!("HTTP {status}"))),
        }
    }
    Err(failed(format!("more than {MAX_REDIRECTS} redirects")))
}

/// Where a redirect from `from` to `location` leads: an absolute http(s) URL, or a path on the same
/// scheme and host.
fn redirect(from: &str, location: &str) -> Option<String> {
    let location = location.trim();
    if location.starts_with("https://") || location.starts_with("http://") {
        return Some(location.to_string());
    }
    let (scheme, rest) = from.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    match location.strip_prefix('/') {
        Some(path) if !path.starts_with('/') => Some(format!("{scheme}://{authority}/{path}")),
        _ => None,
    }
}

// ---- delete --------------------------------------------------------------------------------

/// Undoes what `journal` records, each step tried even when an earlier one failed: deletes the
/// stored messages, removes the temporary rule from the active set (or deactivates and removes the
/// own set unless `keep_rule_set`), and takes the policy statement out again. The errors, if any,
/// come back as one sentence.
pub async fn clean_up(cx: &Cx<'_>, s: &Setup, journal: &Journal) -> Result<(), Error> {
    let ses = cx.ses();
    let mut failed: Vec<String> = Vec::new();
    let own = journal.rule_in.as_deref() == Some(s.rule_set.as_str()) || journal.activated;
    if let Some(set) = journal.rule_in.as_deref().filter(|set| *set != s.rule_set) {
        let deleted = ses.delete_receipt_rule().rule_set_name(set).rule_name(&s.rule).send().await;
        if let Err(e) = deleted.none_if("DeleteReceiptRule", &["RuleDoesNotExist", "RuleSetDoesNotExist"]) {
            failed.push(e.to_string());
        }
    }
    if journal.activated {
        if let Err(e) = ses.set_active_receipt_rule_set().send().await.op("SetActiveReceiptRuleSet") {
            failed.push(e.to_string());
        }
    }
    if own && !s.keep_rule_set {
        let deleted = ses.delete_receipt_rule_set().rule_set_name(&s.rule_set).send().await;
        if let Err(e) = deleted.none_if("DeleteReceiptRuleSet", &["RuleSetDoesNotExist"]) {
            failed.push(e.to_string());
        }
    }
    // After the rule is gone, so that nothing new arrives; SES's setup notification too, also when
    // no message was read.
    let mut objects = journal.objects.clone();
    if journal.rule_in.is_some() {
        objects.insert(format!("{}{SETUP_NOTIFICATION}", s.prefix));
    }
    for key in &objects {
        if let Err(e) = cx.s3().delete_object().bucket(&s.bucket).key(key).send().await.op("DeleteObject") {
            failed.push(e.to_string());
        }
    }
    // A kept rule still needs the statement to store mail once its set is active again.
    if journal.policy_statement && !(own && s.keep_rule_set) {
        let result = async {
            let policy = read_policy(cx, &s.bucket).await?;
            let rest = merged(policy.as_ref(), &sid(&s.rule), None);
            if rest != policy {
                write_policy(cx, &s.bucket, rest).await?;
            }
            Ok::<_, Error>(())
        };
        if let Err(e) = result.await {
            failed.push(e.to_string());
        }
    }
    match failed.is_empty() {
        true => Ok(()),
        false => Err(Error::Refused(format!(
            "cleaning up the receiving setup failed, run again to finish it: {}",
            failed.join("; ")
        ))),
    }
}

/// One receiving run at a time per process: two would share the rule's name and the active set.
static RUNNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
/// Whether a receiving run is under way, which a signal then interrupts instead of ending the process.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Runs `work` and then `clean_up`, whatever happened: success, failure, or SIGTERM/SIGINT while it
/// ran. A signal stops the work, and the process exits (with 128 + the signal's number) once the
/// clean-up is done. Runs of one process take turns.
pub async fn with_clean_up<T, F>(cx: &Cx<'_>, s: &Setup, journal: &mut Journal, work: F) -> Result<T, Error>
where
    F: AsyncFnOnce(&mut Journal) -> Result<T, Error>,
{
    let _turn = RUNNING.lock().await;
    let mut signals = signals();
    signals.borrow_and_update();
    ACTIVE.store(true, Ordering::SeqCst);
    let outcome = tokio::select! {
        r = work(journal) => Ok(r),
        _ = signals.changed() => Err(*signals.borrow()),
    };
    let cleaned = clean_up(cx, s, journal).await;
    ACTIVE.store(false, Ordering::SeqCst);
    let result = match outcome {
        Ok(result) => result,
        Err(signal) => {
            let how = match &cleaned {
                Ok(()) => "cleaned up".to_string(),
                Err(e) => e.to_string(),
            };
            eprintln!("ocp-aws: interrupted by signal {signal} while receiving mail in s3://{}; {how}.", s.bucket);
            std::process::exit(128 + signal);
        }
    };
    match (result, cleaned) {
        (Ok(v), Ok(())) => Ok(v),
        (Err(e), Ok(())) => Err(e),
        (Ok(_), Err(c)) => Err(c),
        (Err(e), Err(c)) => Err(Error::Refused(format!("{e}; {c}"))),
    }
}

/// The number of each SIGTERM or SIGINT the process receives while a receiving run is under way.
/// The handler, once installed, stays for the life of the process; a signal outside a run ends the
/// process as the default action would.
fn signals() -> tokio::sync::watch::Receiver<i32> {
    static SENDER: OnceLock<tokio::sync::watch::Sender<i32>> = OnceLock::new();
    let sender = SENDER.get_or_init(|| {
        use tokio::signal::unix::{signal, SignalKind};
        let (tx, _) = tokio::sync::watch::channel(0);
        if let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            let tx = tx.clone();
            tokio::spawn(async move {
                loop {
                    let n = tokio::select! {
                        _ = term.recv() => 15,
                        _ = int.recv() => 2,
                    };
                    if !ACTIVE.load(Ordering::SeqCst) || tx.send(n).is_err() {
                        std::process::exit(128 + n);
                    }
                }
            });
        }
        tx
    });
    sender.subscribe()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> Setup {
        Setup {
            bucket: "b".into(),
            prefix: "verification/".into(),
            rule_set: DEFAULT_RULE_SET.into(),
            rule: DEFAULT_RULE.into(),
            keep_rule_set: false,
        }
    }

    #[test]
    fn the_statement_lets_ses_store_for_this_account_and_rule_only() {
        let st = statement(&setup(), "eu-west-1", "123456789012", "inbound");
        assert_eq!(st["Resource"], "arn:aws:s3:::b/verification/*");
        assert_eq!(st["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012");
        assert_eq!(
            st["Condition"]["ArnLike"]["aws:SourceArn"],
            "arn:aws:ses:eu-west-1:123456789012:receipt-rule-set/inbound:receipt-rule/deliver-to-s3-bucket"
        );
        assert_eq!(st["Sid"], "OcpAwsSesReceivingdelivertos3bucket");
    }

    #[test]
    fn merging_keeps_other_statements_and_removing_restores_them() {
        let other = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Other", "Effect": "Deny"}]});
        let ours = json!({"Sid": "S", "Effect": "Allow"});
        let with = merged(Some(&other), "S", Some(ours.clone())).unwrap();
        assert_eq!(with["Statement"].as_array().unwrap().len(), 2);
        assert_eq!(merged(Some(&with), "S", Some(ours.clone())), Some(with.clone()), "a re-run replaces its own");
        assert_eq!(merged(Some(&with), "S", None), Some(other));
        assert_eq!(merged(None, "S", None), None);
        let single = json!({"Statement": {"Sid": "S"}});
        assert_eq!(merged(Some(&single), "S", None), None, "a lone statement object is read too");
    }

    #[test]
    fn redirects_lead_to_absolute_urls_or_paths_on_the_same_host() {
        assert_eq!(redirect("http://127.0.0.1:5/a?t=1", "/done").as_deref(), Some("http://127.0.0.1:5/done"));
        assert_eq!(redirect("https://h/a", "https://aws.amazon.com/ok").as_deref(), Some("https://aws.amazon.com/ok"));
        assert_eq!(redirect("https://h/a", "//evil/x"), None, "scheme-relative is not a path");
        assert_eq!(redirect("https://h/a", "ftp://x"), None);
        assert_eq!(redirect("https://h/a", ""), None);
    }

    #[test]
    fn receiving_regions() {
        assert!(receives("us-east-1") && receives("eu-west-2"));
        assert!(!receives("eu-south-2") && !receives("me-central-1"));
        assert_eq!(inbound_mx("eu-west-1"), "inbound-smtp.eu-west-1.amazonaws.com");
    }
}
