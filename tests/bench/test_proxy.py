"""The latency proxy of the benchmark: forwards requests unchanged, adds its latency, keeps
connections alive and sets TCP_NODELAY on both sides (unless asked to measure Nagle's algorithm)."""

from __future__ import annotations

import http.client
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import proxy  # noqa: E402


class Echo(BaseHTTPRequestHandler):
    """Answers every request with what it received, and which connection it came on."""

    protocol_version = "HTTP/1.1"
    connections: list[int] = []

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def setup(self) -> None:
        super().setup()
        Echo.connections.append(id(self.connection))

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        payload = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("latin-1"),
                "connection": id(self.connection),
            }
        ).encode()
        self.send_response(201)
        self.send_header("X-Echo", "yes")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = answer


def serving(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def echo() -> Iterator[str]:
    Echo.connections = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    serving(server)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def started(upstream: str, latency_ms: float = 0.0, nodelay: bool = True) -> ThreadingHTTPServer:
    server = proxy.serve(upstream, 0, latency_ms, nodelay)
    serving(server)
    return server


def test_forwards_method_path_headers_and_body_unchanged(echo: str) -> None:
    server = started(echo)
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1])
    body = b"Action=ListUsers&Version=2010-05-08&x=%00\xff"
    headers = {"Authorization": "AWS4 sig", "X-Amz-Date": "1"}
    conn.request("PUT", "/bucket/key?lifecycle&x=1", body=body, headers=headers)
    response = conn.getresponse()
    seen = json.loads(response.read())
    assert response.status == 201
    assert response.getheader("X-Echo") == "yes"
    assert seen["method"] == "PUT"
    assert seen["path"] == "/bucket/key?lifecycle&x=1"
    assert seen["body"].encode("latin-1") == body
    assert seen["headers"]["authorization"] == "AWS4 sig"
    assert seen["headers"]["x-amz-date"] == "1"
    # The Host header is the client's: SigV4 signs it, so the proxy must not rewrite it.
    assert seen["headers"]["host"] == f"127.0.0.1:{server.server_address[1]}"
    conn.request("HEAD", "/bucket")
    head = conn.getresponse()
    assert head.status == 201 and head.read() == b""
    server.shutdown()


def test_relays_a_chunked_body(echo: str) -> None:
    server = started(echo)
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1])
    chunked = {"Transfer-Encoding": "chunked"}
    conn.request("POST", "/", body=iter([b"abc", b"defg"]), encode_chunked=True, headers=chunked)
    response = conn.getresponse()
    assert response.status == 201
    assert json.loads(response.read())["headers"]["transfer-encoding"] == "chunked"
    server.shutdown()


def test_adds_its_latency_to_every_request(echo: str) -> None:
    server = started(echo, latency_ms=80)
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1])
    times = []
    for _ in range(3):
        start = time.perf_counter()
        conn.request("GET", "/")
        conn.getresponse().read()
        times.append(time.perf_counter() - start)
    assert min(times) >= 0.08
    server.shutdown()


def test_keeps_both_connections_alive(echo: str) -> None:
    server = started(echo)
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1])
    upstream = set()
    for _ in range(5):
        conn.request("GET", "/")
        response = conn.getresponse()
        assert not response.will_close
        upstream.add(json.loads(response.read())["connection"])
    # One client connection was served by one proxy thread, hence one upstream connection.
    assert len(upstream) == 1 and len(Echo.connections) == 1
    server.shutdown()


def test_sets_tcp_nodelay_on_both_sides_unless_asked_for_nagle(echo: str) -> None:
    for nodelay in (True, False):
        server = proxy.serve(echo, 0, 0.0, nodelay)
        handler, accepted = server.RequestHandlerClass, []
        setup = handler.setup

        def recording_setup(self: BaseHTTPRequestHandler) -> None:
            setup(self)
            accepted.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

        handler.setup = recording_setup
        serving(server)
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1])
        conn.request("GET", "/")
        assert conn.getresponse().status == 201
        upstream = proxy.Upstream("127.0.0.1", int(echo.rsplit(":", 1)[1]), nodelay).connection()
        assert bool(accepted[0]) is nodelay
        assert bool(upstream.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)) is nodelay
        upstream.close()
        server.shutdown()


def test_answers_502_when_the_upstream_is_gone() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = started(f"http://127.0.0.1:{port}")
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1])
    conn.request("GET", "/")
    response = conn.getresponse()
    assert response.status == 502
    assert b"could not reach" in response.read()
    server.shutdown()


def test_refuses_an_upstream_that_is_not_http_host_port() -> None:
    with pytest.raises(ValueError):
        proxy.serve("https://example.org")


def signed(service: str) -> dict[str, str]:
    scope = f"AKIATEST/20261201/us-east-1/{service}/aws4_request"
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=00"}


def test_throttles_each_service_on_its_own_with_its_own_error(echo: str) -> None:
    server = proxy.serve(echo, 0, 0.0, True, throttle={"iam": 2, "s3": 1, "ses": 1})
    serving(server)
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1])

    def status(method: str, path: str, service: str) -> tuple[int, bytes, str | None]:
        conn.request(method, path, body=b"Action=ListUsers", headers=signed(service))
        response = conn.getresponse()
        return response.status, response.read(), response.getheader("x-amzn-ErrorType")

    # A burst of the rate passes, the next is refused with the service's own error.
    assert [status("POST", "/", "iam")[0] for _ in range(2)] == [201, 201]
    code, body, _ = status("POST", "/", "iam")
    assert code == 400 and b"<Code>Throttling</Code>" in body
    code, body, _ = status("GET", "/bucket?lifecycle", "s3")
    assert code == 201
    code, body, _ = status("GET", "/bucket?lifecycle", "s3")
    assert code == 503 and b"<Code>SlowDown</Code>" in body
    assert status("GET", "/v2/email/identities/x", "ses")[0] == 201
    code, body, error_type = status("GET", "/v2/email/identities/x", "ses")
    assert code == 429 and error_type == "TooManyRequestsException"
    # Unthrottled services and unsigned requests pass.
    assert status("POST", "/", "sns")[0] == 201
    conn.request("GET", "/")
    unsigned = conn.getresponse()
    assert unsigned.status == 201
    unsigned.read()
    conn.close()
    # The bucket refills at the rate.
    time.sleep(0.6)
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1])
    assert status("POST", "/", "iam")[0] == 201
    conn.request("GET", "/_proxy/stats")
    stats = json.loads(conn.getresponse().read())
    assert stats["throttled"] == {"iam": 1, "s3": 1, "ses": 1}
    assert stats["forwarded"] == 7
    server.shutdown()


def test_refuses_a_throttle_that_is_not_service_equals_rate() -> None:
    assert proxy.parse_throttle("iam=10, s3=2.5") == {"iam": 10.0, "s3": 2.5}
    assert proxy.parse_throttle("") == {}
    for bad in ("iam", "=3", "iam=0", "iam=-1", "iam=x"):
        with pytest.raises(ValueError):
            proxy.parse_throttle(bad)
