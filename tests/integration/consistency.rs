//! Eventual consistency, through the scripted proxy: reads that flip back to the old value,
//! `NoSuchBucket` right after `CreateBucket`, `NoSuchEntity` right after an IAM create, and a
//! difference that never goes away. Budgets run shortened (`OCP_AWS_CONSISTENCY_SCALE`, set by
//! `support::endpoint`), so the waits take a fraction of a second.

use std::time::{Duration, Instant};

use ocp_aws::kind::{Diff, Kind};
use ocp_aws::protocol::StateReturn;
use ocp_aws::resources::s3::bucket::Bucket;
use serde_json::{json, Value};

use crate::consistency_proxy::{self as proxy, FailFirst, LifecycleFlipBack, Request};
use crate::support::{self, converge, endpoint, unique};

/// Converges `pillar` through the proxy at `url`; returns the state of resource `id`.
async fn converge_via(url: &str, pillar: &Value, id: &str) -> StateReturn {
    let returns = support::converge_via(url, pillar).await;
    returns.iter().find(|r| r.id.as_deref() == Some(id)).unwrap_or_else(|| panic!("no {id} in {returns:#?}")).clone()
}

fn rule(id: &str, days: u32) -> Value {
    json!([{"id": id, "expire_days": days}])
}

fn bucket(name: &str, region: &str, lifecycle: Value) -> Value {
    json!({"s3": {"buckets": {name: {"region": region, "lifecycle": lifecycle}}}})
}

/// How many matching reads in a row the bucket declares for a lifecycle write in `region`.
fn lifecycle_run(region: &str) -> usize {
    let mut diff = Diff::default();
    diff.set("lifecycle", (), ());
    Bucket::consistency(region, &diff).matching_reads as usize
}

fn lifecycle_reads(r: &Request) -> bool {
    r.is("GET", "?lifecycle")
}

/// The lifecycle reads that came after the (one) lifecycle write, as `true` for injected answers.
fn reads_after_write(log: &[proxy::Seen]) -> Vec<bool> {
    let write = log.iter().position(|s| s.request.is("PUT", "?lifecycle")).expect("a lifecycle write");
    log[write..].iter().filter(|s| lifecycle_reads(&s.request)).map(|s| s.injected).collect()
}

#[tokio::test]
async fn a_lifecycle_read_that_flips_back_restarts_the_run_of_matching_reads() {
    let (name, region) = (unique("flip"), "eu-west-2");
    assert_eq!(converge(&bucket(&name, region, rule("old", 30)), false).await.returns[0].result, Some(true));

    let proxy = proxy::start(endpoint(), LifecycleFlipBack::new(1, 1));
    let ret = converge_via(&proxy.url, &bucket(&name, region, rule("new", 7)), &format!("s3.bucket {name}")).await;
    assert_eq!(ret.result, Some(true), "{ret:#?}");
    assert!(ret.has_changes());

    // One matching read, the old configuration once, then a whole run again: trusting the first
    // read, or counting on through the flip, would have stopped earlier.
    let reads = reads_after_write(&proxy.log());
    let run = lifecycle_run(region);
    assert!(run > 1, "a lifecycle write in {region} needs a run of reads");
    let mut expected = vec![false, true];
    expected.extend(std::iter::repeat_n(false, run));
    assert_eq!(reads, expected);

    let s3 = crate::support::s3(region).await;
    let rules = s3.get_bucket_lifecycle_configuration().bucket(&name).send().await.unwrap();
    assert_eq!(rules.rules()[0].id(), Some("new"));
}

#[tokio::test]
async fn a_lifecycle_write_is_confirmed_by_a_run_of_reads_elsewhere_too() {
    let (name, region) = (unique("run"), "eu-west-1");
    let proxy = proxy::start(endpoint(), LifecycleFlipBack::new(0, 0));
    let ret = converge_via(&proxy.url, &bucket(&name, region, rule("r", 30)), &format!("s3.bucket {name}")).await;
    assert_eq!(ret.result, Some(true), "{ret:#?}");
    assert_eq!(reads_after_write(&proxy.log()).len(), lifecycle_run(region));
}

#[tokio::test]
async fn a_difference_that_never_goes_away_fails_when_the_budget_is_spent() {
    let (name, region) = (unique("stuck"), "eu-west-1");
    assert_eq!(converge(&bucket(&name, region, rule("old", 30)), false).await.returns[0].result, Some(true));

    let proxy = proxy::start(endpoint(), LifecycleFlipBack::new(1, usize::MAX));
    let started = Instant::now();
    let ret = converge_via(&proxy.url, &bucket(&name, region, rule("new", 7)), &format!("s3.bucket {name}")).await;
    let took = started.elapsed();
    assert_eq!(ret.result, Some(false), "{ret:#?}");
    assert!(
        ret.comment
            .starts_with(&format!("S3 bucket {name} was written, but AWS still reports a difference in: lifecycle.")),
        "{}",
        ret.comment
    );
    let budget = Bucket::CONSISTENCY.budget.mul_f64(ocp_aws::aws::consistency_scale());
    assert!(budget < Duration::from_secs(10), "the tests run with a shortened budget: {budget:?}");
    assert!(took >= budget, "it kept reading for the whole budget: {took:?} < {budget:?}");
    assert!(took < budget + Duration::from_secs(20), "and stopped when it was spent: {took:?}");
    assert!(reads_after_write(&proxy.log()).len() > 2);
}

#[tokio::test]
async fn a_no_op_re_apply_reads_the_lifecycle_once() {
    let (name, region) = (unique("noop"), "eu-west-2");
    let pillar = bucket(&name, region, rule("r", 30));
    assert_eq!(converge(&pillar, false).await.returns[0].result, Some(true));
    let proxy = proxy::start(endpoint(), LifecycleFlipBack::new(0, 0));
    let ret = converge_via(&proxy.url, &pillar, &format!("s3.bucket {name}")).await;
    assert_eq!(ret.result, Some(true), "{ret:#?}");
    assert!(!ret.has_changes());
    assert_eq!(proxy.seen(lifecycle_reads).len(), 1, "no run of reads without a write");
    assert!(proxy.log().iter().all(|s| matches!(s.request.method.as_str(), "GET" | "HEAD")), "{:#?}", proxy.log());
}

#[tokio::test]
async fn no_such_bucket_right_after_create_bucket_is_retried() {
    let name = unique("young");
    let first_write = |r: &Request| r.is("PUT", "?publicAccessBlock") || r.is("PUT", "?lifecycle");
    // The first attempt of each write after CreateBucket is refused once.
    let mut refused = std::collections::HashSet::new();
    let once_each = move |r: &Request| first_write(r) && refused.insert(r.target.clone());
    let proxy = proxy::start(
        endpoint(),
        FailFirst { matches: once_each, times: 2, answer: proxy::s3_error("404 Not Found", "NoSuchBucket") },
    );
    let ret = converge_via(&proxy.url, &bucket(&name, "eu-west-1", rule("r", 30)), &format!("s3.bucket {name}")).await;
    assert_eq!(ret.result, Some(true), "{ret:#?}");
    assert!(ret.comment.starts_with(&format!("S3 bucket {name} created")), "{}", ret.comment);
    let writes: Vec<bool> = proxy.seen(first_write).iter().map(|s| s.injected).collect();
    // The public access block first (refused once, then written), then the lifecycle (likewise).
    assert_eq!(writes, [true, false, true, false]);
}

#[tokio::test]
async fn no_such_bucket_for_a_bucket_that_was_there_is_not_retried() {
    let name = unique("gone");
    let present = json!({"s3": {"buckets": {&name: {"region": "eu-west-1", "block_public_access": false}}}});
    assert_eq!(converge(&present, false).await.returns[0].result, Some(true));
    let put_block = |r: &Request| r.is("PUT", "?publicAccessBlock");
    let proxy = proxy::start(
        endpoint(),
        FailFirst { matches: put_block, times: usize::MAX, answer: proxy::s3_error("404 Not Found", "NoSuchBucket") },
    );
    let blocked = json!({"s3": {"buckets": {&name: {"region": "eu-west-1", "block_public_access": true}}}});
    let ret = converge_via(&proxy.url, &blocked, &format!("s3.bucket {name}")).await;
    assert_eq!(ret.result, Some(false), "{ret:#?}");
    assert!(ret.comment.contains("NoSuchBucket"), "{}", ret.comment);
    assert_eq!(proxy.seen(put_block).len(), 1);
}

#[tokio::test]
async fn no_such_entity_for_an_attach_right_after_create_is_retried() {
    let (user, policy) = (unique("fresh-user"), unique("fresh-policy"));
    let document =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]});
    let attach = |r: &Request| r.action() == Some("AttachUserPolicy");
    let proxy = proxy::start(
        endpoint(),
        FailFirst { matches: attach, times: 2, answer: proxy::iam_error("404 Not Found", "NoSuchEntity") },
    );
    let pillar =
        json!({"iam": {"policies": {&policy: {"document": document}}, "users": {&user: {"policies": [&policy]}}}});
    let ret = converge_via(&proxy.url, &pillar, &format!("iam.user {user}")).await;
    assert_eq!(ret.result, Some(true), "{ret:#?}");
    let attaches: Vec<bool> = proxy.seen(attach).iter().map(|s| s.injected).collect();
    assert_eq!(attaches, [true, true, false]);
    let iam = crate::support::iam().await;
    let attached = iam.list_attached_user_policies().user_name(&user).send().await.unwrap();
    assert_eq!(attached.attached_policies()[0].policy_name(), Some(policy.as_str()));
}
