//! `s3.bucket` against moto: deletion of empty and non-empty buckets, lifecycle edits.

use serde_json::json;

use crate::support::{self, converge, unique};

#[tokio::test]
async fn absent_refuses_a_bucket_with_objects_unless_forced() {
    let bucket = unique("full");
    let present = json!({"s3": {"buckets": {&bucket: {"region": "eu-west-2"}}}});
    assert!(converge(&present, false).await.all(Some(true)));
    let s3 = support::s3("eu-west-2").await;
    s3.put_object().bucket(&bucket).key("dump.sql.gz").body(b"backup".to_vec().into()).send().await.unwrap();

    let absent = json!({"s3": {"buckets": {&bucket: {"ensure": "absent", "region": "eu-west-2"}}}});
    let refused = converge(&absent, false).await;
    let b = refused.get(&format!("s3.bucket {bucket}"));
    assert_eq!(b.result, Some(false));
    assert!(b.comment.contains("is not empty; set force: true"), "{}", b.comment);
    assert!(s3.head_bucket().bucket(&bucket).send().await.is_ok());

    let forced = json!({"s3": {"buckets": {&bucket: {"ensure": "absent", "region": "eu-west-2", "force": true}}}});
    let run = converge(&forced, false).await;
    assert!(run.all(Some(true)), "{:#?}", run.returns);
    assert!(s3.head_bucket().bucket(&bucket).send().await.is_err());
}

#[tokio::test]
async fn lifecycle_rules_are_replaced_as_a_whole_and_an_empty_list_removes_them() {
    let bucket = unique("rules");
    let rules = json!([
        {"id": "delete-after-30-days", "expire_days": 30, "abort_incomplete_multipart_days": 7},
        {"id": "old-versions", "prefix": "archive/", "noncurrent_expire_days": 90}
    ]);
    let pillar = json!({"s3": {"buckets": {&bucket: {"lifecycle": rules}}}});
    assert!(converge(&pillar, false).await.all(Some(true)));
    assert!(converge(&pillar, false).await.unchanged());
    let s3 = support::s3("us-east-1").await;
    assert_eq!(s3.get_bucket_lifecycle_configuration().bucket(&bucket).send().await.unwrap().rules().len(), 2);

    let cleared = json!({"s3": {"buckets": {&bucket: {"lifecycle": []}}}});
    let run = converge(&cleared, false).await;
    assert!(run.all(Some(true)) && run.get(&format!("s3.bucket {bucket}")).changes["new"]["lifecycle"] == json!([]));
    assert!(s3.get_bucket_lifecycle_configuration().bucket(&bucket).send().await.is_err());
    // Unmanaged: leaving `lifecycle` out changes nothing.
    let unmanaged = json!({"s3": {"buckets": {&bucket: {}}}});
    assert!(converge(&unmanaged, false).await.unchanged());
}

#[tokio::test]
async fn block_public_access_false_is_kept_and_toggling_it_leaves_lifecycle_alone() {
    let bucket = unique("open");
    let rules = json!([{"id": "delete-after-30-days", "expire_days": 30, "abort_incomplete_multipart_days": 7}]);
    let pillar =
        |block: bool| json!({"s3": {"buckets": {&bucket: {"block_public_access": block, "lifecycle": rules}}}});
    let created = converge(&pillar(false), false).await;
    assert!(created.all(Some(true)), "{:#?}", created.returns);
    assert_eq!(created.writes(), ["S3 CreateBucket", "S3 PutBucketLifecycleConfiguration"]);
    let s3 = support::s3("us-east-1").await;
    assert!(s3.get_public_access_block().bucket(&bucket).send().await.is_err(), "no block was put");
    assert!(converge(&pillar(false), false).await.unchanged());

    // Only the block changes: the lifecycle configuration is not written again.
    let blocked = converge(&pillar(true), false).await;
    assert_eq!(
        blocked.get(&format!("s3.bucket {bucket}")).changes,
        json!({"old": {"block_public_access": false}, "new": {"block_public_access": true}})
    );
    assert_eq!(blocked.writes(), ["S3 PutPublicAccessBlock"]);
    let opened = converge(&pillar(false), false).await;
    assert_eq!(opened.writes(), ["S3 DeletePublicAccessBlock"]);
    assert!(s3.get_public_access_block().bucket(&bucket).send().await.is_err());
}

#[tokio::test]
async fn a_change_of_abort_incomplete_multipart_days_alone_is_a_difference() {
    let bucket = unique("abort");
    let pillar = |days: i32| json!({"s3": {"buckets": {&bucket: {"lifecycle": [{"id": "r", "expire_days": 30, "abort_incomplete_multipart_days": days}]}}}});
    assert!(converge(&pillar(7), false).await.all(Some(true)));
    let plan = converge(&pillar(3), true).await;
    let b = plan.get(&format!("s3.bucket {bucket}"));
    assert_eq!(b.result, None, "{b:#?}");
    assert_eq!(b.changes["old"]["lifecycle"][0]["abort_incomplete_multipart_days"], 7);
    assert_eq!(b.changes["new"]["lifecycle"][0]["abort_incomplete_multipart_days"], 3);
    let run = converge(&pillar(3), false).await;
    assert_eq!(run.writes(), ["S3 PutBucketLifecycleConfiguration"]);
    let s3 = support::s3("us-east-1").await;
    let rules = s3.get_bucket_lifecycle_configuration().bucket(&bucket).send().await.unwrap();
    assert_eq!(rules.rules()[0].abort_incomplete_multipart_upload().and_then(|a| a.days_after_initiation()), Some(3));
    assert!(converge(&pillar(3), false).await.unchanged());
}

#[tokio::test]
async fn forced_deletion_removes_every_object_version_and_delete_marker() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let bucket = unique("versions");
    assert!(converge(&json!({"s3": {"buckets": {&bucket: {}}}}), false).await.all(Some(true)));
    let s3 = support::s3("us-east-1").await;
    let on = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    s3.put_bucket_versioning().bucket(&bucket).versioning_configuration(on).send().await.unwrap();
    for body in ["one", "two"] {
        s3.put_object().bucket(&bucket).key("dump.sql.gz").body(body.as_bytes().to_vec().into()).send().await.unwrap();
    }
    s3.delete_object().bucket(&bucket).key("dump.sql.gz").send().await.unwrap();
    let listed = s3.list_object_versions().bucket(&bucket).send().await.unwrap();
    assert_eq!((listed.versions().len(), listed.delete_markers().len()), (2, 1));
    // No current object is left, but versions are: not empty to S3, so refused without force.
    let absent = |force: bool| json!({"s3": {"buckets": {&bucket: {"ensure": "absent", "force": force}}}});
    let refused = converge(&absent(false), false).await;
    assert_eq!(refused.returns[0].result, Some(false), "{:#?}", refused.returns);
    let run = converge(&absent(true), false).await;
    assert!(run.all(Some(true)), "{:#?}", run.returns);
    assert!(s3.head_bucket().bucket(&bucket).send().await.is_err());
    assert_eq!(run.writes(), ["S3 DeleteObjects", "S3 DeleteBucket"]);
}
