//! Access keys and secret files under faults and concurrency: lost answers, a silent endpoint, two
//! runs at once, a file the tool did not write, a drifted mode. Nothing orphaned, nothing lost.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ocp_aws::protocol::StateReturn;
use serde_json::{json, Value};

use crate::fault_proxy;
use crate::support::{self, converge, converge_via, endpoint, unique};

/// The user's access key ids, as AWS lists them.
async fn keys_of(user: &str) -> Vec<String> {
    let keys = support::iam().await.list_access_keys().user_name(user).send().await.unwrap();
    keys.access_key_metadata().iter().filter_map(|k| k.access_key_id()).map(str::to_string).collect()
}

fn read_yaml(file: &str) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

/// One kind that writes an access key to a secret file, and where its key id lands in the file.
#[derive(Clone, Copy)]
enum Holder {
    User,
    Smtp,
}

impl Holder {
    fn pillar(self, user: &str, file: &str, key: &str) -> Value {
        match self {
            Holder::User => {
                json!({"iam": {"users": {user: {"access_key": {"secret_file": file, "pillar_key": key}}}}})
            }
            Holder::Smtp => json!({"ses": {"smtp_credentials": {user: {"secret_file": file, "pillar_key": key}}}}),
        }
    }
    fn id(self, user: &str) -> String {
        match self {
            Holder::User => format!("iam.user {user}"),
            Holder::Smtp => format!("ses.smtp_credentials {user}"),
        }
    }
    fn key_in_file(self, file: &str, key: &str) -> Option<String> {
        let doc = read_yaml(file);
        let id = match self {
            Holder::User => &doc[key]["aws_access_key_id"],
            Holder::Smtp => &doc[key]["us-east-1"]["smtp_username"],
        };
        id.as_str().map(str::to_string)
    }
}

/// A lost answer to `action`: the failing apply leaves no key nobody holds, and the next apply ends
/// with exactly one key, the one in the file; the one after is a no-op.
async fn a_lost_answer_converges_to_one_key(holder: Holder, action: &str) {
    let user = unique("lost");
    let file = support::temp_dir("lost").join("k.sls").to_string_lossy().into_owned();
    let pillar = holder.pillar(&user, &file, "k");
    let proxy = fault_proxy::start_losing(endpoint(), &format!("Action={action}&"), 1);
    let first = converge_via(&proxy.url, &pillar).await;
    let sent = proxy.matched.load(std::sync::atomic::Ordering::SeqCst);
    // A repeated CreateUser meets EntityAlreadyExists, so the SDK may retry it; never CreateAccessKey.
    assert!(sent == 1 || (action == "CreateUser" && sent > 1), "{action} was sent {sent} times");
    let r = &first[0];
    if r.result != Some(true) {
        assert!(!r.changes.to_string().contains("written to"), "a failed state claims a written secret: {r:#?}");
        let held = std::path::Path::new(&file).exists().then(|| holder.key_in_file(&file, "k")).flatten();
        assert!(keys_of(&user).await.iter().all(|k| Some(k) == held.as_ref()), "an orphaned key: {r:#?}");
    }
    let again = converge(&pillar, false).await;
    assert!(again.all(Some(true)), "{action}: {:#?} after {first:#?}", again.returns);
    let keys = keys_of(&user).await;
    assert_eq!(keys.len(), 1, "{action}: one key, got {keys:?}");
    assert_eq!(holder.key_in_file(&file, "k").as_deref(), Some(keys[0].as_str()));
    let last = converge(&pillar, false).await;
    assert!(last.unchanged(), "{:#?}", last.returns);
}

#[tokio::test]
async fn a_lost_create_access_key_answer_leaves_no_orphan() {
    let user = unique("lost-key");
    let file = support::temp_dir("lost-key").join("k.sls").to_string_lossy().into_owned();
    let pillar = Holder::User.pillar(&user, &file, "k");
    let proxy = fault_proxy::start_losing(endpoint(), "Action=CreateAccessKey&", 1);
    let first = converge_via(&proxy.url, &pillar).await;
    let r = &first[0];
    assert_eq!(r.result, Some(false), "{r:#?}");
    assert!(r.comment.contains("CreateAccessKey") && r.comment.contains("deleted again"), "{}", r.comment);
    assert_eq!(proxy.matched.load(std::sync::atomic::Ordering::SeqCst), 1, "CreateAccessKey is never retried");
    assert!(keys_of(&user).await.is_empty(), "the key whose secret was lost is deleted");
    assert!(!r.changes.to_string().contains("written to"), "{r:#?}");
    assert!(converge(&pillar, false).await.all(Some(true)));
    let keys = keys_of(&user).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(Holder::User.key_in_file(&file, "k").as_deref(), Some(keys[0].as_str()));
}

#[tokio::test]
async fn a_lost_create_user_answer_leaves_one_user_with_one_key() {
    a_lost_answer_converges_to_one_key(Holder::User, "CreateUser").await;
}

#[tokio::test]
async fn smtp_credentials_survive_lost_answers() {
    a_lost_answer_converges_to_one_key(Holder::Smtp, "CreateAccessKey").await;
    a_lost_answer_converges_to_one_key(Holder::Smtp, "CreateUser").await;
}

#[test]
fn a_silent_endpoint_fails_within_the_timeout_and_says_what_it_waits_for() {
    let dir = support::temp_dir("silent");
    let pillar = dir.join("pillar.yaml");
    std::fs::write(&pillar, json!({"ocp_aws": {"iam": {"users": {"silent-user": {}}}}}).to_string()).unwrap();
    let silent = fault_proxy::silent();
    let started = Instant::now();
    let (status, out, err) = run_binary(&[
        "apply",
        "-f",
        pillar.to_str().unwrap(),
        "--output",
        "json",
        "--endpoint-url",
        &silent,
        "--timeout",
        "4",
        "--attempts",
        "2",
    ]);
    let took = started.elapsed();
    assert_eq!(status, 1, "{out}{err}");
    assert!(took < Duration::from_secs(20), "two attempts of 4 s took {took:?}");
    let returns: Vec<StateReturn> = serde_json::from_str(&out).unwrap();
    assert_eq!(returns[0].result, Some(false));
    let comment = &returns[0].comment;
    assert!(comment.starts_with("Failed to read IAM user silent-user: GetUser:"), "{comment}");
    assert!(comment.contains("did not answer in time"), "{comment}");
    assert!(err.contains("still waiting for AWS to answer IAM GetUser after 5 s"), "{err}");
}

/// Runs the binary with credentials in its environment; returns (status, stdout, stderr).
fn run_binary(args: &[&str]) -> (i32, String, String) {
    let out = spawn(args).wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn spawn(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_ocp-aws"))
        .args(args)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ocp-aws")
}

/// Runs `ocp-aws apply` on each Pillar at once; returns each run's (status, stderr).
fn apply_at_once(pillars: &[&Value], dir: &std::path::Path) -> Vec<(i32, String)> {
    let children: Vec<_> = pillars
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let path = dir.join(format!("pillar-{i}.json"));
            std::fs::write(&path, json!({"ocp_aws": p}).to_string()).unwrap();
            spawn(&["apply", "-f", path.to_str().unwrap(), "--endpoint-url", endpoint()])
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into())
        })
        .collect()
}

const TRIALS: usize = 20;

#[tokio::test]
async fn two_runs_at_once_on_one_user_make_one_key() {
    for trial in 0..TRIALS {
        let user = unique("twice");
        support::iam().await.create_user().user_name(&user).send().await.unwrap();
        let dir = support::temp_dir("twice");
        let file = dir.join("k.sls").to_string_lossy().into_owned();
        let pillar = Holder::User.pillar(&user, &file, "k");
        let runs = apply_at_once(&[&pillar, &pillar], &dir);
        let waited = runs.iter().any(|(_, err)| err.contains("waiting for another ocp-aws run"));
        assert!(runs.iter().all(|(s, _)| *s == 0) || waited, "trial {trial}: {runs:#?}");
        let keys = keys_of(&user).await;
        assert_eq!(keys.len(), 1, "trial {trial}: never two keys: {keys:?} {runs:#?}");
        assert_eq!(Holder::User.key_in_file(&file, "k").as_deref(), Some(keys[0].as_str()), "trial {trial}");
        let next = converge(&pillar, false).await;
        assert!(next.unchanged(), "trial {trial}: {:#?}", next.returns);
    }
}

#[tokio::test]
async fn two_runs_writing_one_shared_file_keep_both_sections() {
    for trial in 0..TRIALS {
        let (a, b) = (unique("share-a"), unique("share-b"));
        let dir = support::temp_dir("share");
        let file = dir.join("shared.sls").to_string_lossy().into_owned();
        let (pa, pb) = (Holder::User.pillar(&a, &file, "a"), Holder::User.pillar(&b, &file, "b"));
        let runs = apply_at_once(&[&pa, &pb], &dir);
        assert!(runs.iter().all(|(s, _)| *s == 0), "trial {trial}: {runs:#?}");
        for (user, key) in [(&a, "a"), (&b, "b")] {
            let keys = keys_of(user).await;
            assert_eq!(keys.len(), 1, "trial {trial}: {user}: {keys:?}");
            let held = Holder::User.key_in_file(&file, key);
            assert_eq!(held.as_deref(), Some(keys[0].as_str()), "trial {trial}: section {key} lost");
        }
        let both = json!({"iam": {"users": {
            &a: {"access_key": {"secret_file": &file, "pillar_key": "a"}},
            &b: {"access_key": {"secret_file": &file, "pillar_key": "b"}}
        }}});
        let next = converge(&both, false).await;
        assert!(next.unchanged(), "trial {trial}: {:#?}", next.returns);
    }
}

#[tokio::test]
async fn a_pillar_file_the_tool_did_not_write_is_refused_and_left_alone() {
    let user = unique("foreign");
    let file = support::temp_dir("foreign").join("private.sls").to_string_lossy().into_owned();
    let hand_written = "# Site secrets, edited by hand.\ndb:\n  password: {{ salt['vault'].read('db') }}\n";
    std::fs::write(&file, hand_written).unwrap();
    let pillar = Holder::User.pillar(&user, &file, "backup");
    let plan = converge(&pillar, true).await;
    assert_eq!(plan.returns[0].result, Some(false), "{:#?}", plan.returns);
    let run = converge(&pillar, false).await;
    let r = run.get(&Holder::User.id(&user));
    assert_eq!(r.result, Some(false));
    assert!(r.comment.contains("was not written by ocp-aws") && r.comment.contains("a file of its own"), "{r:#?}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), hand_written);
    assert!(support::iam().await.get_user().user_name(&user).send().await.is_err(), "nothing was created");
}

#[tokio::test]
async fn a_drifted_mode_is_pending_in_test_mode_and_put_back_by_apply() {
    let user = unique("mode");
    let file = support::temp_dir("mode").join("k.sls").to_string_lossy().into_owned();
    let pillar = Holder::Smtp.pillar(&user, &file, "smtp");
    assert!(converge(&pillar, false).await.all(Some(true)));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mode = || std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;

    let plan = converge(&pillar, true).await;
    let p = plan.get(&Holder::Smtp.id(&user));
    assert_eq!(p.result, None, "{p:#?}");
    assert_eq!(p.changes, json!({"old": {"secret_file_mode": "0644"}, "new": {"secret_file_mode": "0600"}}));
    assert_eq!(mode(), 0o644, "test mode changes nothing");

    let apply = converge(&pillar, false).await;
    let a = apply.get(&Holder::Smtp.id(&user));
    assert_eq!(a.result, Some(true), "{a:#?}");
    assert!(a.comment.contains("secret_file_mode"), "{}", a.comment);
    assert_eq!(mode(), 0o600);
    assert!(converge(&pillar, false).await.unchanged());
}

#[tokio::test]
async fn a_key_no_file_holds_is_reported_on_every_run() {
    let user = unique("stray");
    let file = support::temp_dir("stray").join("k.sls").to_string_lossy().into_owned();
    let pillar = Holder::User.pillar(&user, &file, "k");
    assert!(converge(&pillar, false).await.all(Some(true)));
    let iam = support::iam().await;
    let stray = iam.create_access_key().user_name(&user).send().await.unwrap();
    let stray = stray.access_key().unwrap().access_key_id().to_string();
    for _ in 0..2 {
        let run = converge(&pillar, false).await;
        let r = run.get(&Holder::User.id(&user));
        assert_eq!(r.result, Some(true));
        assert!(r.comment.contains(&stray) && r.comment.contains("no secret file holds"), "{}", r.comment);
    }
}

#[tokio::test]
async fn a_lost_create_policy_version_answer_makes_no_second_version() {
    let name = unique("lost-version");
    let doc = |action: &str| json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]});
    let pillar = |action: &str| json!({"iam": {"policies": {&name: {"document": doc(action)}}}});
    assert!(converge(&pillar("s3:GetObject"), false).await.all(Some(true)));
    let proxy = fault_proxy::start_losing(endpoint(), "Action=CreatePolicyVersion&", 1);
    converge_via(&proxy.url, &pillar("s3:PutObject")).await;
    assert_eq!(proxy.matched.load(std::sync::atomic::Ordering::SeqCst), 1, "CreatePolicyVersion is never retried");
    let again = converge(&pillar("s3:PutObject"), false).await;
    assert!(again.unchanged(), "the lost version was the new default: {:#?}", again.returns);
    let arn = format!("arn:aws:iam::123456789012:policy/{name}");
    let versions = support::iam().await.list_policy_versions().policy_arn(&arn).send().await.unwrap();
    assert_eq!(versions.versions().len(), 2, "one version per change");
}

/// A create whose answer is lost is repeated by the SDK and meets "already exists" (or "already
/// yours"): the object it made is the one wanted, so the apply succeeds and makes nothing twice.
#[tokio::test]
async fn a_lost_answer_to_any_create_by_name_converges_in_one_apply() {
    let bucket = unique("lost-bucket");
    let (group, policy) = (unique("lost-group"), unique("lost-policy"));
    let domain = format!("{}.example.org", unique("lost-domain"));
    let address = format!("{}@example.org", unique("lost-address"));
    let document =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]});
    let cases = [
        (json!({"s3": {"buckets": {&bucket: {"region": "eu-west-2"}}}}), "<CreateBucketConfiguration"),
        (json!({"iam": {"groups": {&group: {}}}}), "Action=CreateGroup&"),
        (json!({"iam": {"policies": {&policy: {"document": document}}}}), "Action=CreatePolicy&"),
        (json!({"ses": {"domains": {&domain: {}}}}), &format!("\"EmailIdentity\":\"{domain}\"")),
        (json!({"ses": {"email_addresses": {&address: {}}}}), &format!("\"EmailIdentity\":\"{address}\"")),
    ];
    for (pillar, pattern) in cases {
        let proxy = fault_proxy::start_losing(endpoint(), pattern, 1);
        let first = converge_via(&proxy.url, &pillar).await;
        assert_eq!(proxy.matched.load(std::sync::atomic::Ordering::SeqCst), 2, "{pattern}: lost once, repeated once");
        assert_eq!(first[0].result, Some(true), "{pattern}: {first:#?}");
        let again = converge(&pillar, false).await;
        assert!(again.unchanged() && again.writes().is_empty(), "{pattern}: {:#?}", again.returns);
    }
}

/// A run that finds the secret file locked by another waits for it, says so on stderr at once, and
/// goes on when the lock is released.
#[tokio::test]
async fn a_run_waits_for_a_held_lock_and_says_so() {
    let user = unique("waits");
    let dir = support::temp_dir("waits");
    let file = dir.join("k.sls").to_string_lossy().into_owned();
    let target = ocp_aws::secrets::Target::new(&file, Some("k"));
    let held = target.lock().await.unwrap();
    let pillar = dir.join("pillar.json");
    std::fs::write(&pillar, json!({"ocp_aws": Holder::User.pillar(&user, &file, "k")}).to_string()).unwrap();
    let child = spawn(&["apply", "-f", pillar.to_str().unwrap(), "--endpoint-url", endpoint()]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(held);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(&format!("waiting for another ocp-aws run to finish with secret file {file}")), "{stderr}");
    assert_eq!(keys_of(&user).await.len(), 1);
    assert_eq!(Holder::User.key_in_file(&file, "k").as_deref(), Some(keys_of(&user).await[0].as_str()));
}
