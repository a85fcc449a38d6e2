//! Test support: a moto server on 127.0.0.1 (the one `OCP_AWS_TEST_ENDPOINT` names, or one started
//! here), unique resource names, SDK clients for out-of-band changes, and converge helpers.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ocp_aws::app;
use ocp_aws::aws::Connection;
use ocp_aws::protocol::StateReturn;
use ocp_aws::secrets::Secret;
use serde_json::{json, Value};

/// The moto server's URL, starting one for this test process when none is given.
pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        // moto shows every change at once: waiting the production budgets for it would only slow the
        // tests, and a budget that runs out (tests/integration/consistency.rs) should run out fast.
        std::env::set_var(ocp_aws::aws::CONSISTENCY_SCALE_VAR, "0.05");
        if let Ok(url) = std::env::var("OCP_AWS_TEST_ENDPOINT") {
            return url;
        }
        start_moto()
    })
}

fn start_moto() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let venv = std::env::var("OCP_AWS_VENV")
        .unwrap_or_else(|_| format!("{}/.cache/ocp-aws/venv", std::env::var("HOME").unwrap_or_default()));
    let launcher = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/moto_server.py");
    // moto plus the project's SES v2 extension, with AWS-managed policies to attach. It runs in a
    // temp folder (moto's recorder writes there) and stops when this test process ends: a watcher
    // shell kills it then (`exec`, so that `$!` is the server itself and not a shell around it).
    let script = format!(
        "(cd \"$(mktemp -d)\" && MOTO_IAM_LOAD_MANAGED_POLICIES=true exec {venv}/bin/python {launcher} -H 127.0.0.1 -p {port}) >/dev/null 2>&1 & m=$!; \
         while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; kill $m",
        pid = std::process::id()
    );
    // Not waited for: the watcher outlives the tests by design and reaps itself.
    #[allow(clippy::zombie_processes)]
    Command::new("bash").arg("-c").arg(script).stdin(Stdio::null()).spawn().expect("start moto_server");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the moto server did not start on port {port}; run tests/support/venv.sh");
        std::thread::sleep(Duration::from_millis(100));
    }
    url
}

/// A name no other test (or earlier run against the same server) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}-{}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst), nanos % 100_000)
}

pub fn connection() -> Connection {
    connection_as("testing")
}

/// A connection signing with access key id `keyid` (moto accepts any), so moto's request recorder
/// can tell this connection's requests from those of tests running at the same time.
pub fn connection_as(keyid: &str) -> Connection {
    Connection {
        region: None,
        profile: None,
        keyid: Some(keyid.into()),
        key: Some(Secret::new("testing")),
        endpoint_url: Some(endpoint().to_string()),
        ..Connection::default()
    }
}

/// Applies `pillar` through another endpoint (a fault-injecting proxy in front of moto).
pub async fn converge_via(url: &str, pillar: &Value) -> Vec<StateReturn> {
    let mut conn = connection();
    conn.endpoint_url = Some(url.to_string());
    app::converge(pillar, &conn, false, None).await.returns
}

/// An access key id no other converge uses.
pub fn unique_keyid() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("AKIATEST{}X{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

/// The result of one converge: the state returns, and the access key id that signed its AWS calls.
pub struct Run {
    pub status: i32,
    pub returns: Vec<StateReturn>,
    pub response: Value,
    pub keyid: String,
}

/// One request moto recorded, named by the moto extension from botocore's service model.
#[derive(Debug)]
pub struct Recorded {
    pub service: String,
    pub operation: String,
    pub read: bool,
}

/// The operations moto recorded for requests signed with `keyid`, in the order they arrived.
/// Counted by moto, not by the code under test (its `CallLog` could be wrong in the same way as
/// the code it counts).
pub fn recorded(keyid: &str) -> Vec<Recorded> {
    let answer = moto_control_answer("recorded-operations", json!({"AccessKeyId": keyid}));
    answer["Operations"]
        .as_array()
        .expect("a list of operations")
        .iter()
        .map(|op| Recorded {
            service: op["Service"].as_str().unwrap_or("?").to_string(),
            operation: op["Operation"].as_str().map(str::to_string).unwrap_or_else(|| {
                format!("{} {}", op["Method"].as_str().unwrap_or("?"), op["Path"].as_str().unwrap_or("?"))
            }),
            read: op["Read"].as_bool().expect("Read is a boolean"),
        })
        .collect()
}

impl Run {
    pub fn get(&self, id: &str) -> &StateReturn {
        self.returns
            .iter()
            .find(|r| r.id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("no state {id} in {:#?}", self.returns))
    }
    /// The write operations this converge made, as moto recorded them: `"SESv2 PutAccountDetails"`.
    pub fn writes(&self) -> Vec<String> {
        recorded(&self.keyid)
            .into_iter()
            .filter(|r| !r.read)
            .map(|r| format!("{} {}", r.service, r.operation))
            .collect()
    }
    /// How many read operations this converge made, as moto recorded them.
    pub fn reads(&self) -> usize {
        recorded(&self.keyid).iter().filter(|r| r.read).count()
    }
    pub fn all(&self, result: Option<bool>) -> bool {
        self.returns.iter().all(|r| r.result == result)
    }
    pub fn unchanged(&self) -> bool {
        self.returns.iter().all(|r| r.result == Some(true) && !r.has_changes())
    }
}

pub async fn converge(pillar: &Value, test: bool) -> Run {
    let keyid = unique_keyid();
    let done = app::converge(pillar, &connection_as(&keyid), test, None).await;
    let response = serde_json::to_value(&done.returns).expect("state returns are JSON");
    Run { status: done.status, returns: done.returns, response, keyid }
}

pub async fn sdk() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(aws_credential_types::Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await
}

pub async fn s3(region: &str) -> aws_sdk_s3::Client {
    let cfg = sdk().await.to_builder().region(aws_config::Region::new(region.to_string())).build();
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&cfg).force_path_style(true).build())
}

pub async fn iam() -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&sdk().await)
}

/// Runs the built binary with `args` and `stdin`; returns (status, stdout, stderr).
pub fn binary(args: &[&str], stdin: &str) -> (i32, String, String) {
    binary_as("testing", args, stdin)
}

/// Runs the built binary with `AWS_ACCESS_KEY_ID=keyid` in its environment (see [`recorded`]).
pub fn binary_as(keyid: &str, args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    endpoint();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ocp-aws"))
        .args(args)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // For CLI commands that take credentials from the environment; requests carry their own.
        .env("AWS_ACCESS_KEY_ID", keyid)
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ocp-aws");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// A fresh temporary folder for secret files.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(unique(&format!("ocp-aws-it-{name}")));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// POSTs JSON to one of the moto extension's test controls (`/_ocp_aws_test/...`).
pub fn moto_control(path: &str, body: Value) {
    moto_control_answer(path, body);
}

/// POSTs JSON to a test control and returns its JSON answer; fails the test unless it is a 200.
pub fn moto_control_answer(path: &str, body: Value) -> Value {
    use std::io::{Read, Write};
    let url = endpoint().trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&url).expect("connect to moto");
    let body = body.to_string();
    let request = format!(
        "POST /_ocp_aws_test/{path} HTTP/1.1\r\nHost: {url}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"), "{path}: {answer}");
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {answer}"))
}
