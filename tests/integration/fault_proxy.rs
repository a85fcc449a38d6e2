//! A fault-injecting HTTP proxy on 127.0.0.1 in front of moto, for what moto cannot do: throttling
//! and server errors. It answers the first `faults` requests whose path contains `path` with the
//! given error, then forwards every request to moto (one request per connection).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub struct Proxy {
    pub url: String,
    /// Requests that matched `path` so far, faulted or not.
    pub matched: Arc<AtomicUsize>,
}

/// An error answer: status line, AWS error code, and further header lines (each ending in CRLF).
pub struct Fault {
    pub status: &'static str,
    pub code: &'static str,
    pub headers: &'static str,
}

pub fn start(upstream: &str, path: &str, faults: usize, fault: Fault) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let upstream = upstream.trim_start_matches("http://").to_string();
    let matched = Arc::new(AtomicUsize::new(0));
    let seen = matched.clone();
    let fault = (fault.status.to_string(), fault.code.to_string(), fault.headers.to_string());
    let path = path.to_string();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (upstream, path, seen, fault) = (upstream.clone(), path.clone(), seen.clone(), fault.clone());
            std::thread::spawn(move || serve(client, &upstream, &path, faults, &fault, &seen));
        }
    });
    Proxy { url, matched }
}

fn serve(
    mut client: TcpStream,
    upstream: &str,
    path: &str,
    faults: usize,
    fault: &(String, String, String),
    seen: &AtomicUsize,
) {
    let Some(request) = read_request(&mut client) else { return };
    let first_line =
        String::from_utf8_lossy(&request[..request.iter().position(|&b| b == b'\r').unwrap_or(0)]).to_string();
    if first_line.contains(path) && seen.fetch_add(1, Ordering::SeqCst) < faults {
        let body = format!("{{\"message\": \"injected {}\"}}", fault.1);
        let answer = format!(
            "HTTP/1.1 {}\r\nx-amzn-ErrorType: {}\r\n{}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            fault.0,
            fault.1,
            fault.2,
            body.len()
        );
        let _ = client.write_all(answer.as_bytes());
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream) else { return };
    let _ = server.write_all(&force_close(&request));
    let mut answer = Vec::new();
    let _ = server.read_to_end(&mut answer);
    let _ = client.write_all(&answer);
}

/// Reads one HTTP/1.1 request: the head, then `Content-Length` bytes of body.
fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
                .unwrap_or(0);
            while data.len() < end + 4 + length {
                let n = stream.read(&mut buf).ok()?;
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&buf[..n]);
            }
            return Some(data);
        }
    }
}

/// Asks the upstream to close after answering, so the answer ends at end of stream.
fn force_close(request: &[u8]) -> Vec<u8> {
    let end = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(request.len());
    let head = String::from_utf8_lossy(&request[..end]);
    let mut out: Vec<u8> = head
        .split("\r\n")
        .filter(|l| !l.to_lowercase().starts_with("connection:"))
        .collect::<Vec<_>>()
        .join("\r\n")
        .into_bytes();
    out.extend_from_slice(b"\r\nConnection: close");
    out.extend_from_slice(&request[end..]);
    out
}
