//! Error paths moto cannot produce, through the fault-injecting proxy: throttling is retried,
//! server errors become a readable `result: false`.

use serde_json::json;

use crate::fault_proxy::{self, Fault};
use crate::support::{converge_via, endpoint, unique};

#[tokio::test]
async fn throttled_ses_calls_are_retried_with_backoff() {
    let d = format!("{}.example.org", unique("throttled"));
    let proxy = fault_proxy::start(
        endpoint(),
        "/v2/email/identities",
        2,
        Fault { status: "429 Too Many Requests", code: "TooManyRequestsException", headers: "" },
    );
    let returns = converge_via(&proxy.url, &json!({"ses": {"domains": {&d: {}}}})).await;
    assert_eq!(returns[0].result, Some(true), "{returns:#?}");
    assert!(proxy.matched.load(std::sync::atomic::Ordering::SeqCst) >= 3, "the two throttled calls were retried");
}

#[tokio::test]
async fn a_server_error_that_persists_is_a_readable_failure() {
    let d = format!("{}.example.org", unique("broken"));
    let proxy = fault_proxy::start(
        endpoint(),
        "/v2/email/identities",
        usize::MAX,
        Fault { status: "503 Service Unavailable", code: "ServiceUnavailable", headers: "" },
    );
    let returns = converge_via(&proxy.url, &json!({"ses": {"domains": {&d: {}}}})).await;
    assert_eq!(returns[0].result, Some(false));
    let comment = &returns[0].comment;
    assert!(
        comment.starts_with(&format!("Failed to read SES domain identity {d}: GetEmailIdentity: ServiceUnavailable")),
        "{comment}"
    );
    assert_eq!(proxy.matched.load(std::sync::atomic::Ordering::SeqCst), 5, "five attempts, then it gives up");
}

#[tokio::test]
async fn a_refused_dkim_key_change_is_reported_at_once_not_retried() {
    let d = format!("{}.example.org", unique("rekey"));
    let pillar = |dkim: &str| json!({"ses": {"domains": {&d: {"dkim": dkim}}}});
    assert_eq!(converge_via(endpoint(), &pillar("RSA_2048_BIT")).await[0].result, Some(true));
    let proxy = fault_proxy::start(
        endpoint(),
        "/dkim/signing",
        usize::MAX,
        Fault { status: "429 Too Many Requests", code: "TooManyRequestsException", headers: "" },
    );
    let returns = converge_via(&proxy.url, &pillar("RSA_1024_BIT")).await;
    assert_eq!(returns[0].result, Some(false));
    assert!(returns[0].comment.contains("at most once a day"), "{}", returns[0].comment);
    assert_eq!(proxy.matched.load(std::sync::atomic::Ordering::SeqCst), 1, "one attempt only");
}

#[tokio::test]
async fn a_bucket_in_another_region_is_found_through_the_redirect() {
    // Real S3 answers HeadBucket at the wrong regional endpoint with 301 and the bucket's region.
    let bucket = unique("elsewhere");
    let proxy = fault_proxy::start(
        endpoint(),
        &format!("HEAD /{bucket}"),
        usize::MAX,
        Fault {
            status: "301 Moved Permanently",
            code: "PermanentRedirect",
            headers: "x-amz-bucket-region: us-west-1\r\n",
        },
    );
    let returns = converge_via(&proxy.url, &json!({"s3": {"buckets": {&bucket: {"region": "eu-west-2"}}}})).await;
    assert_eq!(returns[0].result, Some(false));
    assert!(
        returns[0].comment.contains("exists in us-west-1, but Pillar asks for eu-west-2"),
        "{}",
        returns[0].comment
    );
}

#[tokio::test]
async fn an_answer_that_is_not_an_aws_error_becomes_a_sentence() {
    let d = format!("{}.example.org", unique("html"));
    let proxy = fault_proxy::start_html(endpoint(), "/v2/email/identities", usize::MAX, "500 Internal Server Error");
    let returns = converge_via(&proxy.url, &json!({"ses": {"domains": {&d: {}}}})).await;
    let comment = &returns[0].comment;
    assert_eq!(returns[0].result, Some(false));
    assert!(comment.contains("GetEmailIdentity: AWS answered HTTP 500 Internal Server Error (text/html)"), "{comment}");
    assert!(!comment.contains("Response {") && !comment.contains("<html>"), "{comment}");
}

#[tokio::test]
async fn a_create_that_fails_halfway_reports_what_was_done() {
    // CreateBucket succeeds, the lifecycle write is refused: the bucket exists, so it was an update
    // that failed, and `changes` hold the creation without the lifecycle rules.
    let bucket = unique("halfway");
    let proxy = fault_proxy::start(
        endpoint(),
        &format!("PUT /{bucket}/?lifecycle"),
        usize::MAX,
        Fault { status: "400 Bad Request", code: "MalformedXML", headers: "" },
    );
    let pillar = json!({"s3": {"buckets": {&bucket: {
        "region": "eu-west-2",
        "lifecycle": [{"id": "expire", "expire_days": 30}],
    }}}});
    let returns = converge_via(&proxy.url, &pillar).await;
    assert_eq!(returns[0].result, Some(false), "{returns:#?}");
    let comment = &returns[0].comment;
    assert!(comment.starts_with(&format!("Failed to update S3 bucket {bucket}: ")), "{comment}");
    assert_eq!(returns[0].changes["old"], serde_json::Value::Null, "{returns:#?}");
    assert_eq!(returns[0].changes["new"]["region"], "eu-west-2", "{returns:#?}");
    assert!(returns[0].changes["new"].get("lifecycle").is_none(), "{returns:#?}");
}
