"""The SIP client's urllib3 transport (``django_civic/sip/http.py``), introduced for the benchmark's row 1:
it must keep what requests did implicitly (proxies from the environment) and its size cap."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import urllib3

from django_civic.sip.http import BodyTooLarge, Transport, _environment_proxy


class _Recorder(BaseHTTPRequestHandler):
    """Answers every GET with a fixed body and records the request line (a proxy sees absolute URLs)."""

    protocol_version = "HTTP/1.1"
    seen: list[str] = []
    body = b"x" * 1000
    chunked = False

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        type(self).seen.append(self.requestline)
        self.send_response(200)
        if self.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(self.body), self.body))
        else:
            self.send_header("Content-Length", str(len(self.body)))
            self.end_headers()
            self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    _Recorder.seen = []
    _Recorder.chunked = False
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _transport() -> Transport:
    return Transport(pool_size=2, timeout=5.0, retries=urllib3.Retry(total=0, redirect=0))


def test_direct_requests_use_origin_form(server, monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    response = _transport().request("GET", f"{server}/payload/abc?x=1")
    assert response.status == 200 and bytes(response.read(10_000)) == _Recorder.body
    assert _Recorder.seen == ["GET /payload/abc?x=1 HTTP/1.1"]


def test_the_environments_proxy_is_used_as_requests_would(server, monkeypatch):
    # The recorder plays the proxy: a request through it carries the absolute URL.
    monkeypatch.setenv("http_proxy", server)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    response = _transport().request("GET", "http://civic.invalid/sip/payload/abc")
    assert response.status == 200 and len(response.read(10_000)) == len(_Recorder.body)
    assert _Recorder.seen == ["GET http://civic.invalid/sip/payload/abc HTTP/1.1"]


def test_no_proxy_bypasses_the_proxy(monkeypatch):
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("no_proxy", "civic.invalid")
    assert _environment_proxy("http", "civic.invalid") is None
    assert _environment_proxy("http", "other.invalid") == "http://127.0.0.1:9"


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_cap_is_refused_whether_its_length_is_declared_or_not(server, chunked):
    _Recorder.chunked = chunked
    transport = _transport()
    with pytest.raises(BodyTooLarge):
        transport.request("GET", f"{server}/big").read(999)
    # The connection was dropped, not returned half-read: the next request gets a clean answer.
    assert bytes(transport.request("GET", f"{server}/again").read(10_000)) == _Recorder.body
