//! Test support: a moto server on 127.0.0.1 (the one `OCP_AWS_TEST_ENDPOINT` names, or one started
//! here), unique resource names, SDK clients for out-of-band changes, and converge helpers.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ocp_aws::app;
use ocp_aws::aws::{CallLog, Connection};
use ocp_aws::protocol::{Secret, StateReturn};
use serde_json::Value;

/// The moto server's URL, starting one for this test process when none is given.
pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
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
    // moto plus the project's SES v2 extension. It runs in a temp folder (moto's recorder writes
    // there) and stops when this test process ends: a watcher shell kills it then.
    let script = format!(
        "cd \"$(mktemp -d)\" && {venv}/bin/python {launcher} -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; \
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
    Connection {
        region: None,
        profile: None,
        keyid: Some("testing".into()),
        key: Some(Secret::new("testing")),
        endpoint_url: Some(endpoint().to_string()),
        ..Connection::default()
    }
}

/// The result of one converge: the state returns and the AWS operations it made.
pub struct Run {
    pub status: i32,
    pub returns: Vec<StateReturn>,
    pub calls: CallLog,
    pub response: Value,
}

impl Run {
    pub fn get(&self, id: &str) -> &StateReturn {
        self.returns
            .iter()
            .find(|r| r.id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("no state {id} in {:#?}", self.returns))
    }
    pub fn writes(&self) -> Vec<String> {
        self.calls.writes().iter().map(|c| format!("{} {}", c.service, c.operation)).collect()
    }
    pub fn all(&self, result: Option<bool>) -> bool {
        self.returns.iter().all(|r| r.result == result)
    }
    pub fn unchanged(&self) -> bool {
        self.returns.iter().all(|r| r.result == Some(true) && !r.has_changes())
    }
}

pub async fn converge(pillar: &Value, test: bool) -> Run {
    let (outcome, engine) = app::converge_with(pillar, &connection(), test, None).await;
    let returns: Vec<StateReturn> = serde_json::from_value(outcome.response.clone()).expect("a list of state returns");
    Run {
        status: outcome.status,
        returns,
        calls: engine.map(|e| e.calls().clone()).unwrap_or_default(),
        response: outcome.response,
    }
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
    use std::io::Write;
    endpoint();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ocp-aws"))
        .args(args)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // For CLI commands that take credentials from the environment; requests carry their own.
        .env("AWS_ACCESS_KEY_ID", "testing")
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
}
