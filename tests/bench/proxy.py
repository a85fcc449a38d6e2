"""A loopback HTTP proxy that adds a fixed latency to every request, in front of moto.

Real AWS costs tens of milliseconds a request (80 ms from a European server to us-east-1); moto on
loopback costs none, which flatters tools that make many requests one after another. This proxy
stands in for the distance: it waits ``latency`` seconds, then forwards the request unchanged
(method, path, headers, body) to the upstream server and relays its answer.

Like a real endpoint it keeps connections alive on both sides and sets TCP_NODELAY on both sides.
Without TCP_NODELAY, a response written as headers then body is held back by Nagle's algorithm until
the client acknowledges the first segment, and the client delays that acknowledgement by ~40 ms on
Linux: every request would cost ~40 ms more than the latency asked for. ``--nagle`` keeps Nagle's
algorithm on, to measure exactly that.

``--throttle iam=10,s3=20`` also stands in for AWS's request-rate limits: a token bucket per service
(the service a request is signed for, read from its SigV4 credential scope) that refills at that many
requests a second, up to that many at once; a request that finds its bucket empty is answered, after
the latency, with the error that service sends when it throttles (IAM, SNS, STS, RDS and SES v1:
400 ``Throttling``; S3: 503 ``SlowDown``; EC2: 503 ``RequestLimitExceeded``; SES v2: 429
``TooManyRequestsException``) and never reaches moto. ``GET /_proxy/stats`` (answered by the proxy
itself) gives ``{"throttled": {SERVICE: n}, "forwarded": n}``.

Standard library only:
    python proxy.py --upstream http://127.0.0.1:PORT [--port 0] [--latency-ms 20] [--nagle]
                    [--throttle SERVICE=RATE,...]
prints ``listening http://127.0.0.1:PORT`` on stdout once it accepts connections.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Hop-by-hop headers are the connection's, not the request's: each side keeps its own connection.
HOP_BY_HOP = frozenset(("connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"))


class Upstream:
    """One keep-alive connection to the upstream server per proxy thread."""

    def __init__(self, host: str, port: int, nodelay: bool) -> None:
        self.host, self.port, self.nodelay = host, port, nodelay
        self.local = threading.local()

    def connection(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=300)
            conn.connect()
            # http.client sets TCP_NODELAY itself; the --nagle measurement turns it off again.
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if self.nodelay else 0)
            self.local.conn = conn
        return conn

    def drop(self) -> None:
        conn = getattr(self.local, "conn", None)
        if conn is not None:
            conn.close()
        self.local.conn = None

    def forward(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """Send one request upstream; (status, reason, headers, body) of the answer.

        A kept-alive connection the server has closed in the meantime fails before any answer: the
        request is then sent once more on a new connection (the server never saw it).
        """
        for attempt in (1, 2):
            conn = self.connection()
            try:
                conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name, value)
                conn.endheaders(body if body else None)
                response = conn.getresponse()
                data = response.read()
                if response.will_close:
                    self.drop()
                return response.status, response.reason, response.getheaders(), data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.drop()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


# The service a SigV4 request is signed for: Credential=KEYID/DATE/REGION/SERVICE/aws4_request.
CREDENTIAL_SERVICE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")


def throttled_answer(service: str) -> tuple[int, str, str, bytes]:
    """(status, content type, x-amzn-ErrorType or "", body) of a query or REST-XML service's throttling
    error."""
    if service == "s3":
        body = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
        return 503, "application/xml", "", body.encode()
    if service == "ec2":
        body = (
            "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded."
            "</Message></Error></Errors><RequestID>throttled</RequestID></Response>"
        )
        return 503, "text/xml", "", body.encode()
    body = (
        "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
        "</Error><RequestId>throttled</RequestId></ErrorResponse>"
    )
    return 400, "text/xml", "", body.encode()


class Bucket:
    """A token bucket: ``rate`` tokens a second, at most ``rate`` held."""

    def __init__(self, rate: float) -> None:
        self.rate, self.tokens, self.stamp = rate, rate, time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class Stats:
    """What the proxy did, for ``GET /_proxy/stats``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.throttled: dict[str, int] = {}
        self.forwarded = 0

    def json(self) -> bytes:
        with self.lock:
            return json.dumps({"throttled": dict(self.throttled), "forwarded": self.forwarded}).encode()


def parse_throttle(text: str) -> dict[str, float]:
    """``iam=10,s3=20`` → {"iam": 10.0, "s3": 20.0}; rates must be positive."""
    rates: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        service, sep, rate = part.partition("=")
        if not sep or not service or float(rate) <= 0:
            raise ValueError(f"A throttle is SERVICE=REQUESTS_PER_SECOND (above 0), not {part!r}.")
        rates[service] = float(rate)
    return rates


class Handler(BaseHTTPRequestHandler):
    """Forwards every method; set up by ``serve``."""

    protocol_version = "HTTP/1.1"  # keep-alive towards the client
    upstream: Upstream
    latency: float
    buckets: dict[str, Bucket]
    stats: Stats

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass

    def read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is not None:
            return self.rfile.read(int(length))
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            # Relayed as sent (chunk sizes included), so the upstream decodes it as the client meant.
            raw = bytearray()
            while True:
                size_line = self.rfile.readline()
                raw += size_line
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers, up to the empty line
                        line = self.rfile.readline()
                        raw += line
                        if line in (b"\r\n", b"\n", b""):
                            return bytes(raw)
                raw += self.rfile.read(size + 2)
        return b""

    def answer(self, status: int, content_type: str, error_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def throttled(self, body: bytes) -> bool:
        """Whether this request's service has run out of requests for now (then it was answered)."""
        found = CREDENTIAL_SERVICE.search(self.headers.get("Authorization", ""))
        bucket = self.buckets.get(found.group(1)) if found else None
        if bucket is None or bucket.take():
            return False
        service = found.group(1) if found else ""
        with self.stats.lock:
            self.stats.throttled[service] = self.stats.throttled.get(service, 0) + 1
        if service == "ses" and self.path.startswith("/v2/"):
            # SES v2 and v1 both sign as "ses": v2 is REST-JSON under /v2/ and answers 429; v1 is a
            # query API like IAM.
            message = b'{"message":"Too Many Requests"}'
            self.answer(429, "application/json", "TooManyRequestsException", message)
        else:
            self.answer(*throttled_answer(service))
        return True

    def handle_one(self) -> None:
        body = self.read_body()
        if self.path == "/_proxy/stats":
            self.answer(200, "application/json", "", self.stats.json())
            return
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
        if self.latency:
            time.sleep(self.latency)
        if self.throttled(body):
            return
        with self.stats.lock:
            self.stats.forwarded += 1
        try:
            status, reason, answer_headers, data = self.upstream.forward(self.command, self.path, headers, body)
        except OSError as error:
            message = f"The proxy could not reach the upstream server: {error}".encode()
            self.send_response(502)
            self.send_header("Content-Length", str(len(message)))
            self.end_headers()
            self.wfile.write(message)
            return
        self.send_response_only(status, reason)
        length = str(len(data))
        for name, value in answer_headers:
            lower = name.lower()
            if lower == "content-length" and self.command == "HEAD":
                length = value  # the length of what a GET would answer, as the upstream said
            # The body was read in full: its length replaces any chunked framing of the upstream's.
            elif lower not in HOP_BY_HOP and lower not in ("transfer-encoding", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = handle_one


def serve(
    upstream_url: str,
    port: int = 0,
    latency_ms: float = 0.0,
    nodelay: bool = True,
    throttle: dict[str, float] | None = None,
) -> ThreadingHTTPServer:
    """A proxy server bound to 127.0.0.1:port (0: any free port), not yet serving."""
    split = urllib.parse.urlsplit(upstream_url)
    if split.scheme != "http" or not split.hostname or not split.port:
        raise ValueError(f"The upstream must be http://HOST:PORT, not {upstream_url!r}.")
    handler = type(
        "ProxyHandler",
        (Handler,),
        {
            "upstream": Upstream(split.hostname, split.port, nodelay),
            "latency": latency_ms / 1000.0,
            "buckets": {service: Bucket(rate) for service, rate in (throttle or {}).items()},
            "stats": Stats(),
            # StreamRequestHandler sets TCP_NODELAY on accepted sockets when this is true.
            "disable_nagle_algorithm": nodelay,
        },
    )
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="http://HOST:PORT of the server to forward to")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="milliseconds added to every request")
    parser.add_argument("--nagle", action="store_true", help="leave Nagle's algorithm on (to measure its cost)")
    parser.add_argument("--throttle", default="", help="SERVICE=REQUESTS_PER_SECOND,... (e.g. iam=10,s3=20)")
    args = parser.parse_args(argv)
    try:
        rates = parse_throttle(args.throttle)
    except ValueError as error:
        parser.error(str(error))
    server = serve(args.upstream, args.port, args.latency_ms, nodelay=not args.nagle, throttle=rates)
    print(f"listening http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
