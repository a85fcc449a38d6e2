//! Every Pillar of `tests/corpus/bad_pillars.yaml` is refused before any AWS call: `validate` and
//! `plan` exit with status 2, name the Pillar path of the problem, make no connection to the
//! endpoint, and do not panic.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    pillar: String,
    path: String,
}

/// A TCP listener on 127.0.0.1 that counts the connections made to it and answers each with a
/// bare HTTP 400, which the SDK does not retry.
struct CountingEndpoint {
    url: String,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CountingEndpoint {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, done) = (connections.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                        let _ = stream.read(&mut [0u8; 4096]);
                        let _ = stream
                            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        CountingEndpoint { url, connections, stop, thread: Some(thread) }
    }

    fn count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for CountingEndpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs the binary; returns (status, stdout and stderr together).
fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ocp-aws"))
        .args(args)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // Credentials are there, so that a refusal cannot come from their absence.
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .stdin(Stdio::null())
        .output()
        .expect("run ocp-aws");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

fn cases() -> Vec<Case> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/bad_pillars.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(file).unwrap()).expect("the corpus parses")
}

/// What is wrong with one case's outcome, if anything.
fn judge(case: &Case, command: &str, status: i32, output: &str) -> Option<String> {
    let shown = |s: &str| s.chars().take(400).collect::<String>();
    if output.contains("panicked") {
        return Some(format!("{}: `{command}` panicked: {}", case.name, shown(output)));
    }
    if status != 2 {
        return Some(format!("{}: `{command}` exited {status}, not 2: {}", case.name, shown(output)));
    }
    if !output.contains(&case.path) {
        return Some(format!(
            "{}: `{command}` does not name {}: {}",
            shown(&case.name),
            shown(&case.path),
            shown(output)
        ));
    }
    // Messages quote values in bounded form: no answer is much longer than the path it names.
    if output.len() > 2 * case.path.len() + 4096 {
        return Some(format!("{}: `{command}` answered {} bytes", case.name, output.len()));
    }
    None
}

#[test]
fn every_bad_pillar_is_refused_before_aws_with_its_path() {
    let cases = cases();
    assert!(cases.len() >= 200, "the corpus has {} cases", cases.len());
    let endpoint = CountingEndpoint::start();
    let dir = std::env::temp_dir().join(format!("ocp-aws-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let failures: Vec<String> = std::thread::scope(|s| {
        let chunks: Vec<&[Case]> = cases.chunks(cases.len().div_ceil(4)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .enumerate()
            .map(|(t, chunk)| {
                let (dir, url) = (&dir, &endpoint.url);
                s.spawn(move || {
                    let mut failures = Vec::new();
                    for (i, case) in chunk.iter().enumerate() {
                        let file = dir.join(format!("{t}-{i}.sls"));
                        std::fs::write(&file, &case.pillar).unwrap();
                        let file = file.to_str().unwrap();
                        let (status, out) = run(&["validate", "-f", file]);
                        failures.extend(judge(case, "validate", status, &out));
                        let (status, out) = run(&["plan", "-f", file, "--endpoint-url", url]);
                        failures.extend(judge(case, "plan", status, &out));
                    }
                    failures
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(endpoint.count(), 0, "bad Pillars reached the endpoint");
    assert!(failures.is_empty(), "{} of {} checks failed:\n{}", failures.len(), 2 * cases.len(), failures.join("\n"));
}

/// The harness can fail: a good Pillar passes `validate`, and `plan` does reach the endpoint.
#[test]
fn a_good_pillar_passes_validate_and_plan_reaches_the_endpoint() {
    let endpoint = CountingEndpoint::start();
    let dir = std::env::temp_dir().join(format!("ocp-aws-corpus-good-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("good.sls");
    std::fs::write(
        &file,
        "ocp_aws:\n  s3:\n    buckets:\n      ocp-corpus-good: {region: eu-west-2, lifecycle: [{id: r, expire_days: 30}]}\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let (status, out) = run(&["validate", "-f", file]);
    assert_eq!(status, 0, "{out}");
    let (status, out) = run(&["plan", "-f", file, "--endpoint-url", &endpoint.url]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_ne!(status, 2, "{out}");
    assert!(!out.contains("panicked"), "{out}");
    assert!(endpoint.count() > 0, "plan made no connection: {out}");
}
