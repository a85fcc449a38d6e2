//! IAM kinds against moto: policy versions, groups, access keys, deletion.

use serde_json::json;

use crate::support::{self, converge, unique};

fn doc(action: &str) -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
}

#[tokio::test]
async fn a_changed_document_becomes_the_default_version_and_old_versions_are_pruned_at_five() {
    let name = unique("versions");
    let arn = format!("arn:aws:iam::123456789012:policy/{name}");
    for (i, action) in [
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "sns:Publish",
        "ses:SendRawEmail",
        "s3:DeleteObject",
        "sqs:SendMessage",
    ]
    .iter()
    .enumerate()
    {
        let pillar = json!({"iam": {"policies": {&name: {"document": doc(action)}}}});
        let run = converge(&pillar, false).await;
        assert!(run.all(Some(true)), "step {i}: {:#?}", run.returns);
    }
    let iam = support::iam().await;
    let versions = iam.list_policy_versions().policy_arn(&arn).send().await.unwrap();
    assert_eq!(versions.versions().len(), 5, "IAM keeps at most five versions");
    // Each change past five deleted the oldest version that was not the default: v1, then v2.
    let mut kept: Vec<&str> = versions.versions().iter().filter_map(|v| v.version_id()).collect();
    kept.sort();
    assert_eq!(kept, ["v3", "v4", "v5", "v6", "v7"]);
    let default = versions.versions().iter().find(|v| v.is_default_version).unwrap();
    let text =
        iam.get_policy_version().policy_arn(&arn).version_id(default.version_id().unwrap()).send().await.unwrap();
    let current = text.policy_version().unwrap().document().unwrap();
    let decoded = percent_encoding::percent_decode_str(current).decode_utf8().unwrap();
    assert!(decoded.contains("sqs:SendMessage"), "{decoded}");

    // A document given as a JSON string, with keys in another order, is the same policy.
    let same = json!({"Statement": [{"Resource": "*", "Action": ["sqs:SendMessage"], "Effect": "Allow"}], "Version": "2012-10-17"});
    let pillar = json!({"iam": {"policies": {&name: {"document": same.to_string()}}}});
    let run = converge(&pillar, false).await;
    assert!(run.unchanged(), "{:#?}", run.returns);
    assert!(run.writes().is_empty());
}

#[tokio::test]
async fn users_get_policies_through_groups_and_exact_membership() {
    let (policy, group, user) = (unique("grp-policy"), unique("grp"), unique("grp-user"));
    let pillar = json!({"iam": {
        "policies": {&policy: {"document": doc("s3:GetObject")}},
        "groups": {&group: {"policies": [&policy]}},
        "users": {&user: {"groups": [&group]}}
    }});
    let run = converge(&pillar, false).await;
    assert!(run.all(Some(true)), "{:#?}", run.returns);
    let iam = support::iam().await;
    let groups = iam.list_groups_for_user().user_name(&user).send().await.unwrap();
    assert_eq!(groups.groups()[0].group_name(), group);
    let attached = iam.list_attached_group_policies().group_name(&group).send().await.unwrap();
    assert_eq!(attached.attached_policies()[0].policy_name(), Some(policy.as_str()));

    // Extra attachments made by hand, one of them AWS-managed, are removed: `policies` lists all of them.
    let managed = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    iam.attach_group_policy().group_name(&group).policy_arn(managed).send().await.unwrap();
    let extra = format!("arn:aws:iam::123456789012:policy/{}", unique("extra"));
    let extra_name = extra.rsplit('/').next().unwrap().to_string();
    iam.create_policy().policy_name(&extra_name).policy_document(doc("s3:*").to_string()).send().await.unwrap();
    iam.attach_group_policy().group_name(&group).policy_arn(&extra).send().await.unwrap();
    let run = converge(&pillar, false).await;
    let g = run.get(&format!("iam.group {group}"));
    assert_eq!(g.result, Some(true), "{g:#?}");
    assert!(g.changes["old"]["policies"].as_array().unwrap().iter().any(|p| p == extra_name.as_str()), "{g:#?}");
    assert!(g.changes["old"]["policies"].as_array().unwrap().iter().any(|p| p == managed), "{g:#?}");
    let attached = iam.list_attached_group_policies().group_name(&group).send().await.unwrap();
    let arns: Vec<&str> = attached.attached_policies().iter().filter_map(|p| p.policy_arn()).collect();
    assert_eq!(arns, [format!("arn:aws:iam::123456789012:policy/{policy}")]);
    assert!(converge(&pillar, false).await.unchanged());

    // An AWS-managed policy named in Pillar by its ARN is attached, and needs no iam.policy entry.
    let with_managed = json!({"iam": {
        "policies": {&policy: {"document": doc("s3:GetObject")}},
        "groups": {&group: {"policies": [&policy, managed]}},
        "users": {&user: {"groups": [&group]}}
    }});
    let run = converge(&with_managed, false).await;
    assert!(run.all(Some(true)), "{:#?}", run.returns);
    assert_eq!(run.writes(), ["IAM AttachGroupPolicy"]);
    let attached = iam.list_attached_group_policies().group_name(&group).send().await.unwrap();
    assert!(attached.attached_policies().iter().any(|p| p.policy_arn() == Some(managed)), "{attached:?}");
}

#[tokio::test]
async fn a_lost_secret_file_fails_until_rotate_replaces_the_key() {
    let user = unique("rotate");
    let dir = support::temp_dir("rotate");
    let file = dir.join("k.sls").to_string_lossy().into_owned();
    let pillar =
        |rotate: bool| json!({"iam": {"users": {&user: {"access_key": {"secret_file": &file, "rotate": rotate}}}}});
    assert!(converge(&pillar(false), false).await.all(Some(true)));
    let iam = support::iam().await;
    let first = iam.list_access_keys().user_name(&user).send().await.unwrap().access_key_metadata()[0]
        .access_key_id()
        .unwrap()
        .to_string();

    std::fs::remove_file(&file).unwrap();
    let lost = converge(&pillar(false), false).await;
    let u = lost.get(&format!("iam.user {user}"));
    assert_eq!(u.result, Some(false));
    assert!(u.comment.contains(&first) && u.comment.contains("rotate: true"), "{}", u.comment);
    assert!(lost.writes().is_empty());

    let rotated = converge(&pillar(true), false).await;
    assert!(rotated.all(Some(true)), "{:#?}", rotated.returns);
    let keys = iam.list_access_keys().user_name(&user).send().await.unwrap();
    let ids: Vec<&str> = keys.access_key_metadata().iter().filter_map(|k| k.access_key_id()).collect();
    assert_eq!(ids.len(), 1, "the old key is deleted");
    assert_ne!(ids[0], first);
    let doc: serde_json::Value = serde_yaml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["aws_access_key_id"], ids[0]);
    // In sync again: rotate does not rotate a healthy key.
    assert!(converge(&pillar(true), false).await.unchanged());
}

#[tokio::test]
async fn a_secret_file_that_cannot_be_written_leaves_no_key_behind() {
    let user = unique("rollback");
    let dir = support::temp_dir("rollback");
    let file = dir.join("k.sls").to_string_lossy().into_owned();
    // The file can be read (it does not exist) and locked, but the temporary file the write goes
    // through is taken: the key is created, then writing fails.
    std::fs::create_dir(dir.join(format!(".k.sls.{}.tmp", std::process::id()))).unwrap();
    let pillar = json!({"iam": {"users": {&user: {"access_key": {"secret_file": &file}}}}});
    let run = converge(&pillar, false).await;
    let u = run.get(&format!("iam.user {user}"));
    assert_eq!(u.result, Some(false));
    assert!(u.comment.contains("the new key was deleted again"), "{}", u.comment);
    let keys = support::iam().await.list_access_keys().user_name(&user).send().await.unwrap();
    assert!(keys.access_key_metadata().is_empty(), "no orphaned credentials");
    assert_eq!(u.changes["new"]["access_key"], serde_json::Value::Null, "no key is reported as created: {u:#?}");
}

#[tokio::test]
async fn a_secret_file_that_cannot_be_read_is_refused_before_anything_is_created() {
    let user = unique("unreadable");
    let dir = support::temp_dir("unreadable");
    let blocker = dir.join("not-a-folder");
    std::fs::write(&blocker, "").unwrap();
    let file = blocker.join("k.sls").to_string_lossy().into_owned();
    let pillar = json!({"iam": {"users": {&user: {"access_key": {"secret_file": &file}}}}});
    let run = converge(&pillar, false).await;
    let u = run.get(&format!("iam.user {user}"));
    assert_eq!(u.result, Some(false));
    assert!(u.comment.contains(&file), "{}", u.comment);
    assert!(support::iam().await.get_user().user_name(&user).send().await.is_err(), "no user was created");
}

#[tokio::test]
async fn absent_deletes_users_groups_and_policies_in_reverse_order() {
    let (policy, group, user) = (unique("gone-policy"), unique("gone-grp"), unique("gone-user"));
    let dir = support::temp_dir("absent");
    let file = dir.join("k.sls").to_string_lossy().into_owned();
    let present = json!({"iam": {
        "policies": {&policy: {"document": doc("s3:GetObject")}},
        "groups": {&group: {"policies": [&policy]}},
        "users": {&user: {"groups": [&group], "policies": [&policy], "access_key": {"secret_file": &file}}}
    }});
    assert!(converge(&present, false).await.all(Some(true)));
    // The policy is attached to the user and the group: AWS (and the moto extension) refuses to
    // delete it with DeleteConflict until it is detached.
    let absent = json!({"iam": {
        "policies": {&policy: {"ensure": "absent"}},
        "groups": {&group: {"ensure": "absent"}},
        "users": {&user: {"ensure": "absent"}}
    }});
    let plan = converge(&absent, true).await;
    assert!(plan.all(None) && plan.writes().is_empty(), "{:#?}", plan.returns);
    let run = converge(&absent, false).await;
    assert!(run.all(Some(true)), "{:#?}", run.returns);
    let order: Vec<&str> = run.returns.iter().map(|r| r.id.as_deref().unwrap()).collect();
    assert_eq!(order, [format!("iam.user {user}"), format!("iam.group {group}"), format!("iam.policy {policy}")]);
    assert_eq!(run.get(&format!("iam.user {user}")).comment, format!("IAM user {user} deleted."));
    let iam = support::iam().await;
    assert!(iam.get_user().user_name(&user).send().await.is_err());
    assert!(iam.get_group().group_name(&group).send().await.is_err());
    let again = converge(&absent, false).await;
    assert!(again.unchanged() && again.writes().is_empty(), "{:#?}", again.returns);
    assert!(again.get(&format!("iam.policy {policy}")).comment.ends_with("is absent."));
}
