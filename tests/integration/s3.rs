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
