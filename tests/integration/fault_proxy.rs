//! A fault-injecting HTTP proxy on 127.0.0.1 in front of moto, for what moto cannot do: throttling,
//! server errors, lost answers. It answers the first `faults` requests whose request line (or, for
//! `start_losing`, whole request, so that `Action=CreateAccessKey` matches a query-protocol body)
//! contains `path` with the given fault, then forwards every request to moto (one request per
//! connection). `silent` is an endpoint that accepts connections and never answers.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use crate::http_wire::{force_close, read_request};
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

/// What the proxy does to a matching request.
#[derive(Clone)]
enum Injected {
    /// Answers with this status, error code and extra headers, without asking moto.
    Answer(String, String, String),
    /// Lets moto carry the request out, then closes the connection without answering.
    LoseAnswer,
    /// Answers with this status and an HTML page, as a proxy or load balancer in the way does.
    Html(String),
}

pub fn start(upstream: &str, path: &str, faults: usize, fault: Fault) -> Proxy {
    let fault = Injected::Answer(fault.status.to_string(), fault.code.to_string(), fault.headers.to_string());
    start_with(upstream, path, faults, fault)
}

/// A proxy that forwards the first `faults` requests containing `pattern` to moto and then drops the
/// connection without answering, as when an answer is lost on the way back.
pub fn start_losing(upstream: &str, pattern: &str, faults: usize) -> Proxy {
    start_with(upstream, pattern, faults, Injected::LoseAnswer)
}

/// A proxy that answers the first `faults` requests whose request line contains `path` with `status`
/// and an HTML page instead of an AWS error.
pub fn start_html(upstream: &str, path: &str, faults: usize, status: &str) -> Proxy {
    start_with(upstream, path, faults, Injected::Html(status.to_string()))
}

/// An endpoint that accepts connections, reads requests and never answers. Returns its URL.
pub fn silent() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for client in listener.incoming().flatten() {
            held.push(client);
        }
    });
    url
}

fn start_with(upstream: &str, path: &str, faults: usize, fault: Injected) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let upstream = upstream.trim_start_matches("http://").to_string();
    let matched = Arc::new(AtomicUsize::new(0));
    let seen = matched.clone();
    let path = path.to_string();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (upstream, path, seen, fault) = (upstream.clone(), path.clone(), seen.clone(), fault.clone());
            std::thread::spawn(move || serve(client, &upstream, &path, faults, &fault, &seen));
        }
    });
    Proxy { url, matched }
}

fn serve(mut client: TcpStream, upstream: &str, path: &str, faults: usize, fault: &Injected, seen: &AtomicUsize) {
    let Some(request) = read_request(&mut client) else { return };
    let first_line =
        String::from_utf8_lossy(&request[..request.iter().position(|&b| b == b'\r').unwrap_or(0)]).to_string();
    let matches = match fault {
        Injected::Answer(..) | Injected::Html(_) => first_line.contains(path),
        Injected::LoseAnswer => String::from_utf8_lossy(&request).contains(path),
    };
    let faulted = matches && seen.fetch_add(1, Ordering::SeqCst) < faults;
    if let (true, Injected::Answer(status, code, headers)) = (faulted, fault) {
        let body = format!("{{\"message\": \"injected {code}\"}}");
        let answer = format!(
            "HTTP/1.1 {status}\r\nx-amzn-ErrorType: {code}\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = client.write_all(answer.as_bytes());
        return;
    }
    if let (true, Injected::Html(status)) = (faulted, fault) {
        let body = "<html><body><h1>Internal error</h1><p>Try again later.</p></body></html>";
        let answer = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = client.write_all(answer.as_bytes());
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream) else { return };
    let _ = server.write_all(&force_close(&request));
    let mut answer = Vec::new();
    let _ = server.read_to_end(&mut answer);
    if faulted {
        // Lost on the way back: moto did the work, the caller hears nothing.
        let _ = client.shutdown(std::net::Shutdown::Both);
        return;
    }
    let _ = client.write_all(&answer);
}
