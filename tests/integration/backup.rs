//! The runbook's backup setup end to end: test mode, create, no-op re-apply, drift, secrets.

use std::os::unix::fs::PermissionsExt;

use serde_json::{json, Value};

use crate::support::{self, converge, unique};

pub fn backup_pillar(bucket: &str, user: &str, secret_file: &str) -> Value {
    json!({
        "s3": {"buckets": {bucket: {
            "region": "eu-west-2",
            "lifecycle": [{"id": "delete-after-30-days", "expire_days": 30, "abort_incomplete_multipart_days": 7}]
        }}},
        "iam": {
            "policies": {user: {"bucket_access": bucket}},
            "users": {user: {"policies": [user], "access_key": {"secret_file": secret_file, "pillar_key": "backup"}}}
        }
    })
}

#[tokio::test]
async fn test_mode_writes_nothing_then_apply_creates_and_reapply_is_read_only() {
    let (bucket, user) = (unique("backup"), unique("backup-user"));
    let dir = support::temp_dir("backup");
    let secret_file = dir.join("private/backup.sls").to_string_lossy().into_owned();
    let pillar = backup_pillar(&bucket, &user, &secret_file);

    let plan = converge(&pillar, true).await;
    assert_eq!(plan.status, 0, "{:#?}", plan.returns);
    assert!(plan.all(None), "test mode reports pending changes: {:#?}", plan.returns);
    assert_eq!(plan.writes(), Vec::<String>::new());
    assert!(plan.get(&format!("s3.bucket {bucket}")).comment.contains("is set to be created"));
    assert!(!std::path::Path::new(&secret_file).exists());
    let s3 = support::s3("eu-west-2").await;
    assert!(s3.head_bucket().bucket(&bucket).send().await.is_err(), "test mode created the bucket");

    let apply = converge(&pillar, false).await;
    assert_eq!(apply.status, 0, "{:#?}", apply.returns);
    assert!(apply.all(Some(true)), "{:#?}", apply.returns);
    let order: Vec<&str> = apply.returns.iter().map(|r| r.id.as_deref().unwrap()).collect();
    assert_eq!(order, [format!("s3.bucket {bucket}"), format!("iam.policy {user}"), format!("iam.user {user}")]);
    assert_eq!(apply.get(&format!("s3.bucket {bucket}")).comment, format!("S3 bucket {bucket} created."));

    // AWS has what the runbook asks for.
    let loc = s3.get_bucket_location().bucket(&bucket).send().await.unwrap();
    assert_eq!(loc.location_constraint().unwrap().as_str(), "eu-west-2");
    let rules = s3.get_bucket_lifecycle_configuration().bucket(&bucket).send().await.unwrap();
    let rule = &rules.rules()[0];
    assert_eq!(rule.id(), Some("delete-after-30-days"));
    assert_eq!(rule.expiration().and_then(|e| e.days()), Some(30));
    assert_eq!(rule.abort_incomplete_multipart_upload().and_then(|a| a.days_after_initiation()), Some(7));
    let iam = support::iam().await;
    let attached = iam.list_attached_user_policies().user_name(&user).send().await.unwrap();
    assert_eq!(attached.attached_policies()[0].policy_name(), Some(user.as_str()));

    // The secret file: 0600, a YAML Pillar fragment under `backup`, the key AWS has.
    let meta = std::fs::metadata(&secret_file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(&secret_file).unwrap()).unwrap();
    let id = doc["backup"]["aws_access_key_id"].as_str().unwrap();
    let secret = doc["backup"]["aws_secret_access_key"].as_str().unwrap();
    assert!(secret.len() >= 20);
    let keys = iam.list_access_keys().user_name(&user).send().await.unwrap();
    assert_eq!(keys.access_key_metadata()[0].access_key_id(), Some(id));
    let shown = apply.response.to_string();
    assert!(shown.contains(id) && !shown.contains(secret), "the key id may show, the secret never: {shown}");
    assert!(shown.contains(&format!("written to {secret_file}")));

    let again = converge(&pillar, false).await;
    assert!(again.unchanged(), "{:#?}", again.returns);
    assert_eq!(again.writes(), Vec::<String>::new(), "a second apply makes no write call");
    let reads = again.reads();
    assert!(reads <= 3 * again.returns.len() + 1, "about two to three reads per resource, got {reads}");
    assert!(!again.response.to_string().contains(secret));
}

#[tokio::test]
async fn drift_on_managed_fields_is_reported_and_repaired() {
    let (bucket, user) = (unique("drift"), unique("drift-user"));
    let dir = support::temp_dir("drift");
    let secret_file = dir.join("k.sls").to_string_lossy().into_owned();
    let pillar = backup_pillar(&bucket, &user, &secret_file);
    assert!(converge(&pillar, false).await.all(Some(true)));

    // Out of band: the lifecycle rule is removed, public access unblocked, the policy detached
    // and its document replaced.
    let s3 = support::s3("eu-west-2").await;
    s3.delete_bucket_lifecycle().bucket(&bucket).send().await.unwrap();
    s3.delete_public_access_block().bucket(&bucket).send().await.unwrap();
    let iam = support::iam().await;
    let arn = format!("arn:aws:iam::123456789012:policy/{user}");
    iam.detach_user_policy().user_name(&user).policy_arn(&arn).send().await.unwrap();
    let wide = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]});
    iam.create_policy_version()
        .policy_arn(&arn)
        .policy_document(wide.to_string())
        .set_as_default(true)
        .send()
        .await
        .unwrap();

    let plan = converge(&pillar, true).await;
    assert_eq!(plan.writes(), Vec::<String>::new());
    let b = plan.get(&format!("s3.bucket {bucket}"));
    assert_eq!(b.result, None);
    assert_eq!(b.changes["new"]["block_public_access"], true);
    assert_eq!(b.changes["old"]["lifecycle"], json!([]));
    assert!(plan.get(&format!("iam.policy {user}")).changes["old"]["document"]["Statement"][0]["Action"] == "s3:*");
    assert_eq!(
        plan.get(&format!("iam.user {user}")).changes,
        json!({"old": {"policies": []}, "new": {"policies": [user]}})
    );

    let repair = converge(&pillar, false).await;
    assert!(repair.all(Some(true)), "{:#?}", repair.returns);
    assert!(repair.get(&format!("s3.bucket {bucket}")).comment.contains("updated (block_public_access, lifecycle)"));
    let after = converge(&pillar, false).await;
    assert!(after.unchanged(), "{:#?}", after.returns);
    assert_eq!(after.writes(), Vec::<String>::new());
}

#[tokio::test]
async fn a_failed_resource_skips_its_dependants_but_not_unrelated_ones() {
    let (bucket, user, other) = (unique("conflict"), unique("conflict-user"), unique("unrelated"));
    // The bucket exists in another region than Pillar asks for: a region cannot change.
    support::s3("us-east-1").await.create_bucket().bucket(&bucket).send().await.unwrap();
    let dir = support::temp_dir("conflict");
    let mut pillar = backup_pillar(&bucket, &user, &dir.join("k.sls").to_string_lossy());
    pillar["s3"]["buckets"][&other] = json!({"region": "us-east-1"});
    let run = converge(&pillar, false).await;
    assert_eq!(run.status, 1);
    let b = run.get(&format!("s3.bucket {bucket}"));
    assert_eq!(b.result, Some(false));
    assert!(b.comment.contains("exists in us-east-1, but Pillar asks for eu-west-2"), "{}", b.comment);
    let p = run.get(&format!("iam.policy {user}"));
    assert_eq!(p.result, Some(false));
    assert_eq!(p.comment, format!("One or more requisite failed: s3.bucket {bucket}."));
    assert!(run.get(&format!("iam.user {user}")).comment.contains("requisite failed"));
    assert_eq!(run.get(&format!("s3.bucket {other}")).result, Some(true));
    assert!(support::iam().await.get_user().user_name(&user).send().await.is_err(), "dependants were not created");
}

/// What a no-op re-apply costs, counted by moto: a bucket 3 reads (location, lifecycle, public
/// access block), a policy 2 (the policy, its default version), a user 2 (its policies and its keys,
/// listed at once; the listings say whether it exists), and one STS call for the account id.
#[tokio::test]
async fn a_no_op_re_apply_makes_seven_reads_per_backup_and_one_for_the_account() {
    const K: usize = 4;
    let dir = support::temp_dir("reads");
    let mut pillar = json!({"s3": {"buckets": {}}, "iam": {"policies": {}, "users": {}}});
    for i in 0..K {
        let (bucket, user) = (unique("reads"), unique("reads-user"));
        let file = dir.join(format!("k{i}.sls")).to_string_lossy().into_owned();
        let one = backup_pillar(&bucket, &user, &file);
        for (section, kind) in [("s3", "buckets"), ("iam", "policies"), ("iam", "users")] {
            let entries = one[section][kind].as_object().unwrap().clone();
            pillar[section][kind].as_object_mut().unwrap().extend(entries);
        }
    }
    assert!(converge(&pillar, false).await.all(Some(true)));
    let again = converge(&pillar, false).await;
    assert!(again.unchanged(), "{:#?}", again.returns);
    assert!(again.writes().is_empty(), "{:?}", again.writes());
    assert_eq!(again.reads(), 7 * K + 1, "{:?}", support::recorded(&again.keyid));
}

/// With one resource at a time, the calls show the order of work: a resource's calls all come before
/// the next one's, and among resources ready together, Pillar order decides (here the policy, ready
/// once its bucket exists, goes before the group, which was ready from the start).
#[tokio::test]
async fn one_at_a_time_runs_in_pillar_order() {
    let (bucket, name) = (unique("order"), unique("order"));
    let pillar = json!({
        "s3": {"buckets": {&bucket: {}}},
        "iam": {
            "policies": {&name: {"bucket_access": &bucket}},
            "groups": {&name: {}},
            "users": {&name: {"policies": [&name]}},
        }
    });
    let keyid = support::unique_keyid();
    let done = ocp_aws::app::converge(&pillar, &support::connection_as(&keyid), false, Some(1)).await;
    assert_eq!(done.status, 0, "{:#?}", done.returns);
    let calls: Vec<String> = support::recorded(&keyid)
        .into_iter()
        .filter(|r| r.service != "STS")
        .map(|r| format!("{} {}", r.service, r.operation))
        .collect();
    let first_iam = calls.iter().position(|c| c.starts_with("IAM ")).expect("IAM calls");
    assert!(calls[first_iam..].iter().all(|c| c.starts_with("IAM ")), "the bucket's calls come first: {calls:#?}");
    let at = |op: &str| calls.iter().position(|c| c == op).unwrap_or_else(|| panic!("no {op} in {calls:#?}"));
    assert!(at("IAM CreatePolicy") < at("IAM CreateGroup"), "{calls:#?}");
    assert!(at("IAM CreateGroup") < at("IAM CreateUser"), "{calls:#?}");
}
