//! A scripted HTTP proxy on 127.0.0.1 in front of moto that plays the part of an eventually
//! consistent AWS, which moto is not: a [`Script`] sees every request and the upstream answer to each
//! request it lets through, and may answer a request itself (an error, or an answer recorded
//! earlier). The proxy keeps a log of every request, in order, for the tests' counts, so that the
//! counts never come from the code under test. One request per connection, as the SDK reconnects.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use crate::http_wire::{force_close, read_request};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as the script sees it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, e.g. `/my-bucket?lifecycle`.
    pub target: String,
    pub body: String,
}

impl Request {
    /// An S3 call by method and query marker, e.g. `("PUT", "?lifecycle")`.
    pub fn is(&self, method: &str, query: &str) -> bool {
        self.method == method && self.target.contains(query)
    }
    /// The operation of a query-protocol call (IAM, STS): the `Action` form field.
    pub fn action(&self) -> Option<&str> {
        self.body.split('&').find_map(|kv| kv.strip_prefix("Action="))
    }
}

/// What the proxy does with one request.
pub enum Reply {
    /// Pass it to moto and relay the answer.
    Forward,
    /// Answer with these bytes (a whole HTTP response) instead.
    Answer(Vec<u8>),
}

/// Decides, request by request, what AWS "says".
pub trait Script: Send + 'static {
    fn request(&mut self, request: &Request) -> Reply;
    /// How long AWS takes to answer each request (the latency of a real endpoint).
    fn latency(&self) -> Duration {
        Duration::ZERO
    }
    /// Called with moto's answer to each forwarded request.
    fn forwarded(&mut self, _request: &Request, _answer: &[u8]) {}
}

/// One request the proxy saw, and whether the script answered it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub request: Request,
    pub injected: bool,
}

pub struct Proxy {
    pub url: String,
    log: Arc<Mutex<Vec<Seen>>>,
    /// The most requests that were in flight at once.
    peak: Arc<AtomicUsize>,
}

impl Proxy {
    /// Every request so far, in the order they arrived.
    pub fn log(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }
    /// The most requests that were in flight at the same moment so far.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
    /// The requests so far that `matches` selects.
    pub fn seen(&self, matches: impl Fn(&Request) -> bool) -> Vec<Seen> {
        self.log().into_iter().filter(|s| matches(&s.request)).collect()
    }
}

pub fn start(upstream: &str, script: impl Script) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let upstream = upstream.trim_start_matches("http://").to_string();
    let log = Arc::new(Mutex::new(Vec::new()));
    let script: Arc<Mutex<dyn Script>> = Arc::new(Mutex::new(script));
    let (seen, peak) = (log.clone(), Arc::new(AtomicUsize::new(0)));
    let (in_flight, highest) = (Arc::new(AtomicUsize::new(0)), peak.clone());
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (upstream, script, seen) = (upstream.clone(), script.clone(), seen.clone());
            let (in_flight, highest) = (in_flight.clone(), highest.clone());
            std::thread::spawn(move || serve(client, &upstream, &*script, &seen, &in_flight, &highest));
        }
    });
    Proxy { url, log, peak }
}

fn serve(
    mut client: TcpStream,
    upstream: &str,
    script: &Mutex<dyn Script>,
    log: &Mutex<Vec<Seen>>,
    in_flight: &AtomicUsize,
    highest: &AtomicUsize,
) {
    let Some(raw) = read_request(&mut client) else { return };
    // In flight from the whole request read to just before the answer goes back: the caller cannot
    // send its next request before then, so one request after another never counts as two.
    highest.fetch_max(in_flight.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
    let answer = answer(&raw, upstream, script, log);
    in_flight.fetch_sub(1, Ordering::SeqCst);
    if let Some(answer) = answer {
        let _ = client.write_all(&answer);
    }
}

/// What AWS "says" to one request: the script's answer, or moto's.
fn answer(raw: &[u8], upstream: &str, script: &Mutex<dyn Script>, log: &Mutex<Vec<Seen>>) -> Option<Vec<u8>> {
    let request = parse(raw);
    let latency = script.lock().unwrap().latency();
    std::thread::sleep(latency);
    let reply = script.lock().unwrap().request(&request);
    let injected = matches!(reply, Reply::Answer(_));
    log.lock().unwrap().push(Seen { request: request.clone(), injected });
    let answer = match reply {
        Reply::Answer(answer) => answer,
        Reply::Forward => {
            let mut server = TcpStream::connect(upstream).ok()?;
            let _ = server.write_all(&force_close(raw));
            let mut answer = Vec::new();
            let _ = server.read_to_end(&mut answer);
            script.lock().unwrap().forwarded(&request, &answer);
            answer
        }
    };
    Some(answer)
}

fn parse(raw: &[u8]) -> Request {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut first = head.lines().next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let target = first.next().unwrap_or_default().to_string();
    let body = String::from_utf8_lossy(raw.get(end + 4..).unwrap_or_default()).to_string();
    Request { method, target, body }
}

fn http(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// An S3 error answer (REST-XML), e.g. `404 Not Found` / `NoSuchBucket`.
pub fn s3_error(status: &str, code: &str) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>injected {code}</Message>\
         <RequestId>consistency-proxy</RequestId></Error>"
    );
    http(status, "application/xml", &body)
}

/// An IAM error answer (query protocol), e.g. `404 Not Found` / `NoSuchEntity`.
pub fn iam_error(status: &str, code: &str) -> Vec<u8> {
    let body = format!(
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>\
         <Code>{code}</Code><Message>injected {code}</Message></Error><RequestId>consistency-proxy</RequestId>\
         </ErrorResponse>"
    );
    http(status, "text/xml", &body)
}

/// Answers the first `times` requests that `matches` selects with `answer`; forwards the rest.
pub struct FailFirst<F> {
    pub matches: F,
    pub times: usize,
    pub answer: Vec<u8>,
}

impl<F: FnMut(&Request) -> bool + Send + 'static> Script for FailFirst<F> {
    fn request(&mut self, request: &Request) -> Reply {
        if self.times > 0 && (self.matches)(request) {
            self.times -= 1;
            return Reply::Answer(self.answer.clone());
        }
        Reply::Forward
    }
}

/// S3 lifecycle reads that flip back: records moto's answer to the first lifecycle read (the old
/// configuration); after a lifecycle write, forwards `matching_first` reads (which show the new
/// one), then answers the next `flips` reads with the recorded old configuration.
pub struct LifecycleFlipBack {
    pub matching_first: usize,
    pub flips: usize,
    old: Option<Vec<u8>>,
    written: bool,
    forwarded_after_write: usize,
}

impl LifecycleFlipBack {
    pub fn new(matching_first: usize, flips: usize) -> Self {
        LifecycleFlipBack { matching_first, flips, old: None, written: false, forwarded_after_write: 0 }
    }
}

impl Script for LifecycleFlipBack {
    fn request(&mut self, request: &Request) -> Reply {
        if request.is("PUT", "?lifecycle") {
            self.written = true;
        } else if request.is("GET", "?lifecycle") && self.written {
            match &self.old {
                Some(old) if self.forwarded_after_write >= self.matching_first && self.flips > 0 => {
                    self.flips -= 1;
                    return Reply::Answer(old.clone());
                }
                _ => self.forwarded_after_write += 1,
            }
        }
        Reply::Forward
    }

    fn forwarded(&mut self, request: &Request, answer: &[u8]) {
        if request.is("GET", "?lifecycle") && !self.written && self.old.is_none() {
            self.old = Some(answer.to_vec());
        }
    }
}

/// Forwards everything, each request answered after `0` of latency.
pub struct Slow(pub Duration);

impl Script for Slow {
    fn request(&mut self, _request: &Request) -> Reply {
        Reply::Forward
    }
    fn latency(&self) -> Duration {
        self.0
    }
}
