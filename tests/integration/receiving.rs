//! `verify_via_s3` and `ses dmarc-check` against moto's SES receiving extension: the verification
//! mail stored in S3 and its link served by the moto server itself, the account's receiving setup
//! put back as it was. The active receipt rule set is one per account and region, so each test
//! works in a region of its own.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::dns_server::{self, Answer};
use crate::support::{self, binary, converge, endpoint, moto_control, moto_control_answer, unique};

async fn ses(region: &str) -> aws_sdk_ses::Client {
    let cfg = support::sdk().await.to_builder().region(aws_config::Region::new(region.to_string())).build();
    aws_sdk_ses::Client::new(&cfg)
}

fn sesv2(cfg: &aws_config::SdkConfig) -> aws_sdk_sesv2::Client {
    aws_sdk_sesv2::Client::new(cfg)
}

/// The moto server's host and port, as `link_hosts` names it.
fn link_host() -> String {
    endpoint().trim_start_matches("http://").to_string()
}

/// A fresh address on a fresh domain, the domain's MX at SES inbound in `region`, and a nameserver
/// answering it.
fn address(region: &str) -> (String, String) {
    let domain = format!("{}.example.org", unique("rcv"));
    let ns = dns_server::start(vec![(domain.clone(), Answer::Mx(10, format!("inbound-smtp.{region}.amazonaws.com")))]);
    (format!("verify@{domain}"), ns.to_string())
}

/// Arms the address: it stays PENDING, and each verification send stores a mail whose link the
/// moto server serves.
fn arm(address: &str, region: &str) {
    let link = format!("{}/_ocp_aws_test/verify-link", endpoint());
    moto_control("verification-mail", json!({"EmailIdentity": address, "LinkBase": link, "Region": region}));
}

fn mail_status(address: &str, region: &str) -> Value {
    moto_control_answer("verification-mail-status", json!({"EmailIdentity": address, "Region": region}))
}

fn pillar(region: &str, ns: &str, address: &str, bucket: &str, wait: &str, hosts: Option<Vec<String>>) -> Value {
    let mut verify = json!({"bucket": bucket});
    if let Some(hosts) = hosts {
        verify["link_hosts"] = json!(hosts);
    }
    json!({"region": region, "nameservers": [ns],
           "ses": {"email_addresses": {address: {"verify_via_s3": verify, "wait": wait}}}})
}

/// The active rule set's name and rule names, or `None`.
async fn active(region: &str) -> Option<(String, Vec<String>)> {
    let out = ses(region).await.describe_active_receipt_rule_set().send().await.unwrap();
    out.metadata()
        .and_then(|m| m.name())
        .map(|n| (n.to_string(), out.rules().iter().map(|r| r.name().to_string()).collect()))
}

async fn rule_sets(region: &str) -> Vec<String> {
    let out = ses(region).await.list_receipt_rule_sets().send().await.unwrap();
    out.rule_sets().iter().filter_map(|m| m.name().map(str::to_string)).collect()
}

async fn objects(region: &str, bucket: &str) -> Vec<String> {
    let out = support::s3(region).await.list_objects_v2().bucket(bucket).send().await.unwrap();
    out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect()
}

async fn policy(region: &str, bucket: &str) -> Option<Value> {
    let out = support::s3(region).await.get_bucket_policy().bucket(bucket).send().await.ok()?;
    out.policy().map(|p| serde_json::from_str(p).unwrap())
}

async fn status(region: &str, address: &str) -> String {
    let cfg = support::sdk().await.to_builder().region(aws_config::Region::new(region.to_string())).build();
    let out = sesv2(&cfg).get_email_identity().email_identity(address).send().await.unwrap();
    out.verification_status().map(|s| s.as_str().to_string()).unwrap_or_default()
}

/// Nothing of the receiving setup is left: no active set (none was), no own set, no stored mail,
/// no policy statement.
async fn nothing_left(region: &str, bucket: &str) {
    assert_eq!(active(region).await, None);
    assert!(!rule_sets(region).await.contains(&"email-address-verification".to_string()));
    assert_eq!(objects(region, bucket).await, Vec::<String>::new(), "the stored mail (it holds a token) is deleted");
    assert_eq!(policy(region, bucket).await, None, "the statement it added is gone");
}

#[tokio::test]
async fn an_address_is_verified_through_s3_and_the_receiving_setup_is_put_back() {
    let region = "us-west-2";
    let (addr, ns) = address(region);
    let bucket = unique("verify");
    arm(&addr, region);
    let p = pillar(region, &ns, &addr, &bucket, "60s", Some(vec![link_host()]));

    let plan = converge(&p, true).await;
    assert!(plan.all(None) && plan.writes().is_empty(), "{:#?} {:?}", plan.returns, plan.writes());
    assert!(
        plan.returns[0].comment.contains(&format!("received in s3://{bucket}/verification/")),
        "{:#?}",
        plan.returns
    );

    let run = converge(&p, false).await;
    let r = run.get(&format!("ses.email_identity {addr}"));
    assert_eq!(r.result, Some(true), "{r:#?}");
    assert!(r.comment.contains(&format!("Verified by receiving its mail in s3://{bucket}")), "{}", r.comment);
    assert!(r.comment.contains("its own verification succeeded"), "{}", r.comment);
    assert!(!run.response.to_string().contains("X-Amz-Signature"), "the token never shows");
    assert_eq!(status(region, &addr).await, "SUCCESS");
    assert_eq!(mail_status(&addr, region), json!({"Sent": 2, "Delivered": 1, "Followed": 1}));
    nothing_left(region, &bucket).await;
    let writes = run.writes();
    for w in ["SES CreateReceiptRuleSet", "SES SetActiveReceiptRuleSet", "SES DeleteReceiptRuleSet", "S3 DeleteObject"]
    {
        assert!(writes.contains(&w.to_string()), "{writes:?}");
    }

    let again = converge(&p, false).await;
    assert!(again.unchanged(), "{:#?}", again.returns);
    assert_eq!(again.writes(), Vec::<String>::new());
}

#[tokio::test]
async fn another_active_rule_set_gets_a_temporary_first_rule_and_keeps_exactly_its_rules() {
    let region = "eu-west-1";
    let (addr, ns) = address(region);
    let bucket = unique("verify");
    let client = ses(region).await;
    client.create_receipt_rule_set().rule_set_name("inbound").send().await.unwrap();
    for name in ["first", "second"] {
        let rule = aws_sdk_ses::types::ReceiptRule::builder().name(name).enabled(true).build().unwrap();
        let after = (name == "second").then_some("first");
        client
            .create_receipt_rule()
            .rule_set_name("inbound")
            .set_after(after.map(str::to_string))
            .rule(rule)
            .send()
            .await
            .unwrap();
    }
    client.set_active_receipt_rule_set().rule_set_name("inbound").send().await.unwrap();
    // A bucket of its own, with a policy statement of its own that must survive.
    let s3 = support::s3(region).await;
    s3.create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let own = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Theirs", "Effect": "Deny", "Principal": "*",
        "Action": "s3:DeleteBucket", "Resource": format!("arn:aws:s3:::{bucket}")}]});
    s3.put_bucket_policy().bucket(&bucket).policy(own.to_string()).send().await.unwrap();
    arm(&addr, region);

    let run = converge(&pillar(region, &ns, &addr, &bucket, "60s", Some(vec![link_host()])), false).await;
    let r = run.get(&format!("ses.email_identity {addr}"));
    assert_eq!(r.result, Some(true), "{r:#?}");
    assert_eq!(status(region, &addr).await, "SUCCESS");
    assert_eq!(active(region).await, Some(("inbound".to_string(), vec!["first".to_string(), "second".to_string()])));
    assert!(
        !rule_sets(region).await.contains(&"email-address-verification".to_string()),
        "no own set when one is active"
    );
    assert_eq!(policy(region, &bucket).await, Some(own), "the other statements are kept as they were");
    assert_eq!(objects(region, &bucket).await, Vec::<String>::new());
    assert!(!run.writes().contains(&"SES SetActiveReceiptRuleSet".to_string()), "{:?}", run.writes());
}

#[tokio::test]
async fn a_link_to_another_host_is_refused_and_not_followed() {
    let region = "us-east-2";
    let (addr, ns) = address(region);
    let bucket = unique("verify");
    arm(&addr, region);
    // The default allows only email-verification.us-east-2.amazonaws.com; the mail links to 127.0.0.1.
    let run = converge(&pillar(region, &ns, &addr, &bucket, "60s", None), false).await;
    let r = run.get(&format!("ses.email_identity {addr}"));
    assert_eq!(r.result, Some(false), "{r:#?}");
    assert!(r.comment.contains(&format!("refused the verification link to http://{}", link_host())), "{}", r.comment);
    assert!(!r.comment.contains("X-Amz-Signature") && !r.comment.contains("Context="), "{}", r.comment);
    assert_eq!(mail_status(&addr, region)["Followed"], 0);
    assert_eq!(status(region, &addr).await, "PENDING");
    nothing_left(region, &bucket).await;
}

#[tokio::test]
async fn a_mail_that_never_comes_times_out_and_cleans_up() {
    let region = "eu-west-3";
    let (addr, ns) = address(region);
    let bucket = unique("verify");
    // Pending, and not armed: no verification mail is ever stored.
    moto_control("identity-status", json!({"EmailIdentity": addr, "Status": "PENDING", "Region": region}));
    let run = converge(&pillar(region, &ns, &addr, &bucket, "3s", Some(vec![link_host()])), false).await;
    let r = run.get(&format!("ses.email_identity {addr}"));
    assert_eq!(r.result, Some(false), "{r:#?}");
    // The wait bounds the whole verification: what is left of it after the set-up bounds the poll.
    assert!(
        r.comment.contains("timed out after") && r.comment.contains("still pending: a new message"),
        "{}",
        r.comment
    );
    nothing_left(region, &bucket).await;
}

#[tokio::test]
async fn without_sess_mx_the_address_is_left_pending_with_a_pointer_to_its_mailbox() {
    let region = "ca-central-1";
    let domain = format!("{}.example.org", unique("mx"));
    let ns = dns_server::start(vec![(domain.clone(), Answer::Mx(10, "mail.example.net".into()))]).to_string();
    let addr = format!("someone@{domain}");
    arm(&addr, region);
    let bucket = unique("verify");
    let run = converge(&pillar(region, &ns, &addr, &bucket, "5s", None), false).await;
    // A wait was asked for: not receivable, so it waits for a person and fails on the timeout.
    let r = run.get(&format!("ses.email_identity {addr}"));
    assert_eq!(r.result, Some(false), "{r:#?}");
    assert!(r.comment.contains("the MX of") && r.comment.contains("check the mailbox of"), "{}", r.comment);

    let mut p = pillar(region, &ns, &addr, &bucket, "5s", None);
    p["ses"]["email_addresses"][&addr].as_object_mut().unwrap().remove("wait");
    let run = converge(&p, false).await;
    let r = run.get(&format!("ses.email_identity {addr}"));
    assert_eq!(r.result, Some(true), "not a failure without a wait: {r:#?}");
    assert!(r.comment.contains(&format!("check the mailbox of {addr}")), "{}", r.comment);
    assert!(r.comment.contains("mail.example.net, not inbound-smtp.ca-central-1.amazonaws.com"), "{}", r.comment);
    assert!(run.writes().iter().all(|w| !w.contains("Receipt") && !w.starts_with("S3")), "{:?}", run.writes());
    assert_eq!(mail_status(&addr, region)["Delivered"], 0);
}

/// Runs `ocp-aws apply -f FILE` in the background, signing with `keyid`.
fn apply_in_background(file: &std::path::Path) -> std::process::Child {
    endpoint();
    Command::new(env!("CARGO_BIN_EXE_ocp-aws"))
        .args(["apply", "-f", &file.to_string_lossy(), "--endpoint-url", endpoint()])
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env(ocp_aws::aws::CONSISTENCY_SCALE_VAR, "0.05")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ocp-aws")
}

#[tokio::test]
async fn sigterm_while_polling_cleans_up_and_a_rerun_converges() {
    let region = "eu-central-1";
    let (addr, ns) = address(region);
    let bucket = unique("verify");
    moto_control("identity-status", json!({"EmailIdentity": addr, "Status": "PENDING", "Region": region}));
    let dir = support::temp_dir("sigterm");
    let file = dir.join("pillar.yaml");
    let p = pillar(region, &ns, &addr, &bucket, "120s", Some(vec![link_host()]));
    std::fs::write(&file, serde_json::to_string(&json!({"ocp_aws": p})).unwrap()).unwrap();

    let mut child = apply_in_background(&file);
    // Polling has begun once the own rule set is active.
    let deadline = Instant::now() + Duration::from_secs(60);
    while active(region).await.is_none() {
        assert!(Instant::now() < deadline, "the run never activated its rule set");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let exit = child.wait().unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(exit.code(), Some(143), "{err}");
    assert!(err.contains("interrupted by signal 15") && err.contains("cleaned up"), "{err}");
    nothing_left(region, &bucket).await;

    // What a run killed outright leaves (its own set active, with its rule) is found by name and
    // cleaned by the next run, which verifies the address.
    let client = ses(region).await;
    client.create_receipt_rule_set().rule_set_name("email-address-verification").send().await.unwrap();
    let rule = aws_sdk_ses::types::ReceiptRule::builder().name("deliver-to-s3-bucket").enabled(true).build().unwrap();
    client.create_receipt_rule().rule_set_name("email-address-verification").rule(rule).send().await.unwrap();
    client.set_active_receipt_rule_set().rule_set_name("email-address-verification").send().await.unwrap();
    // Verified once its link is followed (the status control no longer holds it PENDING).
    moto_control("identity-status", json!({"EmailIdentity": addr, "Status": "SUCCESS", "Region": region}));
    arm(&addr, region);
    let (code, out, err) = binary(&["apply", "-f", &file.to_string_lossy(), "--endpoint-url", endpoint()], "");
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(status(region, &addr).await, "SUCCESS");
    nothing_left(region, &bucket).await;
}

#[tokio::test]
async fn dmarc_check_reports_aligned_unaligned_and_failing_signatures() {
    let region = "ap-southeast-2";
    let from_domain = format!("{}.example.com", unique("from"));
    let (to, ns) = address(region);
    let bucket = unique("dmarc");
    // A verified domain identity signs with d=its domain; a lone address is signed by amazonses.com only.
    let lone = format!("alone@{}.example.net", unique("lone"));
    let p = json!({"region": region, "ses": {"domains": {&from_domain: {}}, "email_addresses": {&lone: {}}}});
    assert!(converge(&p, false).await.all(Some(true)));
    let check = |from: &str, extra: &[&str]| {
        let args = [
            &["ses", "dmarc-check", "--from", from, "--to", &to, "--region", region, "--bucket", &bucket][..],
            &["--nameserver", &ns, "--endpoint-url", endpoint()][..],
            extra,
        ]
        .concat();
        binary(&args, "")
    };

    let (code, out, err) = check(&format!("noreply@{from_domain}"), &["--output", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["passes"], true);
    let domains: Vec<&str> =
        v["authentication"]["dkim"].as_array().unwrap().iter().map(|d| d["domain"].as_str().unwrap()).collect();
    assert!(domains.contains(&from_domain.as_str()) && domains.contains(&"amazonses.com"), "{v:#}");
    nothing_left(region, &bucket).await;

    let (code, out, err) = check(&lone, &[]);
    assert_eq!(code, 1, "only amazonses.com signs, which is not aligned: {out}{err}");
    assert!(out.contains("does not pass through an aligned DKIM signature"), "{out}");

    moto_control(
        "delivery-authentication",
        json!({"Recipient": to, "Dkim": "fail", "Dmarc": "fail", "Region": region}),
    );
    let (code, out, err) = check(&format!("noreply@{from_domain}"), &["--output", "json"]);
    assert_eq!(code, 1, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["passes"], false);
    assert!(v["authentication"]["dkim"].as_array().unwrap().iter().all(|d| d["result"] == "fail"), "{v:#}");
    nothing_left(region, &bucket).await;

    let (code, _, err) = check("not-an-address", &[]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = binary(
        &[
            "ses",
            "dmarc-check",
            "--from",
            &lone,
            "--to",
            "x@nowhere.example.org",
            "--region",
            region,
            "--nameserver",
            &ns,
            "--endpoint-url",
            endpoint(),
        ],
        "",
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("has no MX record") && err.contains("MX 10 inbound-smtp.ap-southeast-2.amazonaws.com"),
        "{err}"
    );
}
