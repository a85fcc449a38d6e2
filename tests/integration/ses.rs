//! SES kinds against moto and its SES v2 extension (tests/support/moto_server.py).

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use serde_json::{json, Value};

use crate::dns_server::{self, Answer};
use crate::support::{self, binary, converge, endpoint, moto_control, unique};

fn domain() -> String {
    format!("{}.example.org", unique("d"))
}

#[tokio::test]
async fn a_domain_identity_with_dkim_and_mail_from_converges_and_reapplies_read_only() {
    let d = domain();
    // SES has found the MAIL FROM domain's MX record (AWS says PENDING until it does).
    moto_control("mail-from-status", json!({"EmailIdentity": d, "Status": "SUCCESS", "Region": "eu-west-2"}));
    let pillar = json!({"region": "eu-west-2", "ses": {"domains": {&d: {"mail_from": format!("bounce.{d}")}}}});
    let plan = converge(&pillar, true).await;
    assert!(plan.all(None) && plan.writes().is_empty(), "{:#?}", plan.returns);

    let run = converge(&pillar, false).await;
    let id = format!("ses.domain_identity {d}");
    let r = run.get(&id);
    assert_eq!(r.result, Some(true), "{r:#?}");
    assert_eq!(r.changes["new"]["dkim"], "RSA_2048_BIT");
    assert_eq!(r.changes["new"]["mail_from"], format!("bounce.{d}"));
    assert!(r.comment.contains("Verification: SUCCESS. DKIM: SUCCESS."), "{}", r.comment);
    assert!(r.comment.contains(&format!("MAIL FROM bounce.{d}: SUCCESS.")), "{}", r.comment);

    let again = converge(&pillar, false).await;
    assert!(again.unchanged(), "{:#?}", again.returns);
    assert_eq!(again.writes(), Vec::<String>::new());

    // A new key length goes through PutEmailIdentityDkimSigningAttributes.
    let shorter = json!({"region": "eu-west-2", "ses": {"domains": {&d: {"mail_from": format!("bounce.{d}"), "dkim": "RSA_1024_BIT"}}}});
    let run = converge(&shorter, false).await;
    assert_eq!(run.get(&id).changes, json!({"old": {"dkim": "RSA_2048_BIT"}, "new": {"dkim": "RSA_1024_BIT"}}));
    assert_eq!(run.writes(), ["SESv2 PutEmailIdentityDkimSigningAttributes"]);
}

#[tokio::test]
async fn wait_polls_until_verified_and_times_out_naming_what_is_pending() {
    let (slow, stuck) = (domain(), domain());
    moto_control("identity-status", json!({"EmailIdentity": slow, "PendingReads": 2, "Region": "us-east-1"}));
    moto_control("identity-status", json!({"EmailIdentity": stuck, "PendingReads": 1000, "Region": "us-east-1"}));
    let pillar = json!({"ses": {"domains": {&slow: {"wait": "60s"}, &stuck: {"wait": "2s"}}}});
    let run = converge(&pillar, false).await;
    let s = run.get(&format!("ses.domain_identity {slow}"));
    assert_eq!(s.result, Some(true), "{s:#?}");
    assert!(s.comment.contains("Verification: SUCCESS"), "{}", s.comment);
    let t = run.get(&format!("ses.domain_identity {stuck}"));
    assert_eq!(t.result, Some(false));
    assert!(
        t.comment.contains("timed out after 2s; still pending: verification PENDING, DKIM PENDING"),
        "{}",
        t.comment
    );
    assert!(t.comment.contains("._domainkey CNAME"), "the records to create are listed: {}", t.comment);
    assert_eq!(t.changes["new"]["dkim"], "RSA_2048_BIT", "the identity was created: {t:#?}");
}

#[tokio::test]
async fn a_failed_verification_stops_the_wait_at_once() {
    let d = domain();
    moto_control(
        "identity-status",
        json!({"EmailIdentity": d, "PendingReads": 0, "Status": "FAILED", "Region": "us-east-1"}),
    );
    let run = converge(&json!({"ses": {"domains": {&d: {"wait": "10m"}}}}), false).await;
    let r = run.get(&format!("ses.domain_identity {d}"));
    assert_eq!(r.result, Some(false));
    assert!(r.comment.contains("SES gave up verifying"), "{}", r.comment);
}

#[tokio::test]
async fn an_email_identity_reports_its_own_status() {
    let address = format!("{}@example.org", unique("noreply"));
    let pillar = json!({"ses": {"email_addresses": {&address: {}}}});
    let run = converge(&pillar, false).await;
    assert!(run.all(Some(true)), "{:#?}", run.returns);
    let again = converge(&pillar, false).await;
    assert!(again.unchanged() && again.writes().is_empty());
    assert!(again.returns[0].comment.contains("may send"), "{}", again.returns[0].comment);
    let gone = converge(&json!({"ses": {"email_addresses": {&address: {"ensure": "absent"}}}}), false).await;
    assert_eq!(gone.returns[0].comment, format!("SES email identity {address} deleted."));
}

/// The SMTP password, computed by Python's hmac from AWS's published algorithm.
fn python_smtp_password(secret: &str, region: &str) -> String {
    let script = r#"
import base64, hmac, hashlib, sys
secret, region = sys.stdin.read().split("\n")[:2]
def sign(key, msg): return hmac.new(key, msg.encode(), hashlib.sha256).digest()
sig = sign(("AWS4" + secret).encode(), "11111111")
for part in (region, "ses", "aws4_request", "SendRawEmail"): sig = sign(sig, part)
print(base64.b64encode(bytes([4]) + sig).decode())
"#;
    use std::io::Write;
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{secret}\n{region}\n").as_bytes()).unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap().trim().to_string()
}

#[test]
fn smtp_passwords_match_an_independent_derivation() {
    for (secret, region) in
        [("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1"), ("AbCdEf0123456789+/xyz", "eu-west-2")]
    {
        let ours = ocp_aws::resources::ses::smtp_credentials::smtp_password(secret, region);
        assert_eq!(ours, python_smtp_password(secret, region), "{region}");
        let (status, out, _) = binary(&["smtp-password", "--region", region], secret);
        assert_eq!((status, out.trim()), (0, ours.as_str()));
        let (status, out, _) = binary(&["smtp-password", "--region", region], &format!("{secret}\r\n"));
        assert_eq!((status, out.trim()), (0, ours.as_str()), "one line ending, CRLF too, is not part of the key");
    }
}

#[test]
fn smtp_password_refuses_a_key_that_cannot_be_one() {
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    for (stdin, why) in [
        ("", "no secret access key on stdin"),
        ("\n", "no secret access key on stdin"),
        (&format!("{secret}\n{secret}\n") as &str, "more than one line"),
        (&format!("{secret} \n") as &str, "holds a space"),
    ] {
        let (status, out, err) = binary(&["smtp-password", "--region", "eu-west-2"], stdin);
        assert_eq!(status, 2, "{stdin:?}: {out}{err}");
        assert!(out.is_empty(), "{stdin:?}: no password is printed: {out}");
        assert!(err.contains(why), "{stdin:?}: {err}");
        assert!(!err.contains(secret), "the key is never echoed: {err}");
    }
}

#[tokio::test]
async fn smtp_credentials_are_written_once_per_region_and_never_shown() {
    let user = unique("ses-smtp");
    let dir = support::temp_dir("smtp");
    let file = dir.join("ses_smtp.sls").to_string_lossy().into_owned();
    let spec = |regions: Value, rotate: bool| json!({"ses": {"smtp_credentials": {&user: {"secret_file": &file, "pillar_key": "smtp", "regions": regions, "rotate": rotate}}}});
    let run = converge(&spec(json!(["eu-west-2", "us-east-1"]), false), false).await;
    let r = run.get(&format!("ses.smtp_credentials {user}"));
    assert_eq!(r.result, Some(true), "{r:#?}");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let london = &doc["smtp"]["eu-west-2"];
    assert_eq!(london["smtp_host"], "email-smtp.eu-west-2.amazonaws.com");
    assert_eq!(london["smtp_port"], 587);
    let key_id = london["smtp_username"].as_str().unwrap();
    let password = london["smtp_password"].as_str().unwrap();
    assert_ne!(password, doc["smtp"]["us-east-1"]["smtp_password"].as_str().unwrap());
    assert!(!run.response.to_string().contains(password), "the password never shows");

    let iam = support::iam().await;
    let policy = iam.get_user_policy().user_name(&user).policy_name("AmazonSesSendingAccess").send().await.unwrap();
    assert!(policy.policy_document().contains("SendRawEmail"));
    let keys = iam.list_access_keys().user_name(&user).send().await.unwrap();
    assert_eq!(keys.access_key_metadata()[0].access_key_id(), Some(key_id));

    let again = converge(&spec(json!(["eu-west-2", "us-east-1"]), false), false).await;
    assert!(again.unchanged() && again.writes().is_empty(), "{:#?}", again.returns);

    // A new region needs the key's secret, which is not kept: it fails until rotate is set.
    let more = converge(&spec(json!(["eu-west-2", "us-east-1", "eu-central-1"]), false), false).await;
    assert!(more.returns[0].comment.contains("no SMTP password for eu-central-1"), "{}", more.returns[0].comment);
    let rotated = converge(&spec(json!(["eu-west-2", "us-east-1", "eu-central-1"]), true), false).await;
    assert_eq!(rotated.returns[0].result, Some(true), "{:#?}", rotated.returns);
    let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_ne!(doc["smtp"]["eu-central-1"]["smtp_username"], key_id);
    let keys = iam.list_access_keys().user_name(&user).send().await.unwrap();
    assert_eq!(keys.access_key_metadata().len(), 1, "the old key is gone");
}

#[tokio::test]
async fn account_settings_disable_suppression_and_request_production_access_once() {
    // Account settings are per region; this test owns ap-south-1 on the shared server.
    let pillar = json!({"ses": {"account": {
        "region": "ap-south-1",
        "suppression_list": "disabled",
        "production_access": {"mail_type": "TRANSACTIONAL", "website_url": "https://www.open-contracting.org", "use_case_description": "Notifications to registered users."}
    }}});
    let run = converge(&pillar, false).await;
    let r = run.get("ses.account ap-south-1");
    assert_eq!(r.result, Some(true), "{r:#?}");
    assert_eq!(r.changes["new"]["suppression_list"], json!([]));
    assert_eq!(r.changes["new"]["production_access"], "requested");
    assert!(r.comment.contains("Production access: pending review"), "{}", r.comment);
    let again = converge(&pillar, false).await;
    assert!(
        again.unchanged() && again.writes().is_empty(),
        "a pending request is not sent again: {:#?}",
        again.returns
    );

    moto_control("account-review", json!({"Status": "GRANTED", "Region": "ap-south-1"}));
    let granted = converge(&pillar, false).await;
    assert!(granted.returns[0].comment.contains("Production access: granted."), "{}", granted.returns[0].comment);
    assert!(granted.writes().is_empty());
}

#[test]
fn dns_records_and_a_live_check_against_a_local_nameserver() {
    let d = domain();
    let pillar = json!({"version": 1, "op": "converge", "params": {"ses": {"domains": {&d: {"mail_from": format!("bounce.{d}"), "region": "eu-west-2"}}}},
        "connection": {"endpoint_url": endpoint(), "keyid": "testing", "key": "testing"}});
    let (status, out, _) = binary(&["stdio"], &pillar.to_string());
    assert_eq!(status, 0, "{out}");

    let conn = ["--endpoint-url", endpoint(), "--region", "eu-west-2"];
    let (status, table, err) = binary(&[&["dns", "records", &d, "--zone", "example.org"][..], &conn[..]].concat(), "");
    assert_eq!(status, 0, "{err}");
    let sub = d.trim_end_matches(".example.org");
    assert!(table.contains(&format!("._domainkey.{sub}  CNAME")), "{table}");
    assert!(
        table.contains(&format!("bounce.{sub}")) && table.contains("feedback-smtp.eu-west-2.amazonses.com"),
        "{table}"
    );
    assert!(!table.contains("example.org  "), "host names are relative to the zone: {table}");

    let (_, json_out, _) = binary(&[&["dns", "records", &d, "--output", "json"][..], &conn[..]].concat(), "");
    let records: Vec<Value> = serde_json::from_str(&json_out).unwrap();
    let dkim: Vec<&Value> = records.iter().filter(|r| r["purpose"] == "DKIM").collect();
    assert_eq!(dkim.len(), 3);

    // Publish two DKIM records right, one wrong, the MX, an SPF that includes amazonses twice, a DMARC.
    let mut answers = Vec::new();
    for (i, r) in dkim.iter().enumerate() {
        let target = if i == 2 { "wrong.example.net".to_string() } else { r["value"].as_str().unwrap().to_string() };
        answers.push((r["name"].as_str().unwrap().to_string(), Answer::Cname(target)));
    }
    answers.push((format!("bounce.{d}"), Answer::Mx(10, "feedback-smtp.eu-west-2.amazonses.com".into())));
    answers
        .push((format!("bounce.{d}"), Answer::Txt("v=spf1 include:amazonses.com include:amazonses.com ~all".into())));
    answers.push((format!("_dmarc.{d}"), Answer::Txt("v=DMARC1; p=quarantine; rua=mailto:dmarc@example.org".into())));
    let ns = dns_server::start(answers);

    let (status, report, err) = binary(
        &[&["dns", "check", &d, "--nameserver", &ns.to_string(), "--output", "json"][..], &conn[..]].concat(),
        "",
    );
    assert_eq!(status, 1, "a wrong record fails the check: {report}{err}");
    let v: Value = serde_json::from_str(&report).unwrap();
    let statuses: Vec<(&str, &str)> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["purpose"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("DKIM", "present"),
            ("DKIM", "present"),
            ("DKIM", "wrong"),
            ("MAIL FROM MX", "present"),
            ("MAIL FROM SPF", "wrong"),
            ("DMARC", "present")
        ]
    );
    assert!(v["records"][4]["detail"].as_str().unwrap().contains("includes amazonses.com 2 times"));
    assert_eq!(v["dmarc_alignment"]["aligned"], false);

    // All records right: the check passes and DKIM is aligned.
    let mut good: Vec<(String, Answer)> = dkim
        .iter()
        .map(|r| (r["name"].as_str().unwrap().to_string(), Answer::Cname(r["value"].as_str().unwrap().to_string())))
        .collect();
    good.push((format!("bounce.{d}"), Answer::Mx(10, "feedback-smtp.eu-west-2.amazonses.com".into())));
    good.push((format!("bounce.{d}"), Answer::Txt("v=spf1 include:amazonses.com ~all".into())));
    good.push((format!("_dmarc.{d}"), Answer::Txt("v=DMARC1; p=none;".into())));
    let ns = dns_server::start(good);
    let (status, report, err) =
        binary(&[&["dns", "check", &d, "--nameserver", &ns.to_string()][..], &conn[..]].concat(), "");
    assert_eq!(status, 0, "{report}{err}");
    assert!(report.contains("is DMARC-aligned and verifies"), "{report}");
}

#[test]
fn smtp_password_matches_a_published_example() {
    // From the AWS SDK for PHP's test suite (tests/Ses/SesClientTest.php, generateSmtpPasswordV4),
    // made with AWS's sample code for the documented algorithm.
    let ours = ocp_aws::resources::ses::smtp_credentials::smtp_password(
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "us-east-2",
    );
    assert_eq!(ours, "BMPPgbAHoFVbze1Ud0oA5uNdXRwUXUZ+qOwphGJbl/cS");
}

#[tokio::test]
async fn the_smtp_user_gets_exactly_the_send_only_policy() {
    let user = unique("ses-only");
    let dir = support::temp_dir("smtp-only");
    let pillar = json!({"ses": {"smtp_credentials": {&user: {"secret_file": dir.join("s.sls").to_string_lossy()}}}});
    assert!(converge(&pillar, false).await.all(Some(true)));
    let iam = support::iam().await;
    let wide = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]});
    iam.put_user_policy().user_name(&user).policy_name("admin").policy_document(wide.to_string()).send().await.unwrap();
    let run = converge(&pillar, false).await;
    let r = run.get(&format!("ses.smtp_credentials {user}"));
    assert_eq!(r.result, Some(true), "{r:#?}");
    assert_eq!(
        r.changes,
        json!({"old": {"inline_policies": ["AmazonSesSendingAccess", "admin"]}, "new": {"inline_policies": ["AmazonSesSendingAccess"]}})
    );
    assert_eq!(run.writes(), ["IAM DeleteUserPolicy"]);
    let names = iam.list_user_policies().user_name(&user).send().await.unwrap();
    assert_eq!(names.policy_names(), ["AmazonSesSendingAccess"]);
    assert!(converge(&pillar, false).await.unchanged());
}

#[tokio::test]
async fn absent_deletes_a_domain_identity_and_smtp_credentials() {
    let (d, user) = (domain(), unique("ses-gone"));
    let dir = support::temp_dir("smtp-gone");
    let present = json!({"ses": {"domains": {&d: {}}, "smtp_credentials": {&user: {"secret_file": dir.join("s.sls").to_string_lossy()}}}});
    assert!(converge(&present, false).await.all(Some(true)));
    let absent =
        json!({"ses": {"domains": {&d: {"ensure": "absent"}}, "smtp_credentials": {&user: {"ensure": "absent"}}}});
    let plan = converge(&absent, true).await;
    assert!(plan.all(None) && plan.writes().is_empty(), "{:#?}", plan.returns);
    let run = converge(&absent, false).await;
    assert!(run.all(Some(true)), "{:#?}", run.returns);
    assert_eq!(run.get(&format!("ses.domain_identity {d}")).comment, format!("SES domain identity {d} deleted."));
    assert_eq!(run.get(&format!("ses.smtp_credentials {user}")).comment, format!("SES SMTP user {user} deleted."));
    assert!(support::iam().await.get_user().user_name(&user).send().await.is_err(), "the IAM user is gone");
    let again = converge(&absent, false).await;
    assert!(again.unchanged() && again.writes().is_empty(), "{:#?}", again.returns);
}
