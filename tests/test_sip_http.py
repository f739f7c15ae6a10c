"""The SIP client's HTTP transport (``django_civic/sip/http.py`` and ``http11.py``) against real sockets.

What it must keep from urllib3, which it replaced for direct requests (benchmark row 1): one request per
auth code and never a second (an auth code is single use), stale kept-alive connections replaced before
anything is sent, bodies capped whatever their framing, timeouts, TLS verification, proxies from the
environment, thread safety; and what it refuses: malformed or ambiguous framing.
"""

from __future__ import annotations

import datetime
import gzip
import ipaddress
import os
import socket
import ssl
import threading
import time
import zlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from django_civic.sip.http import BodyTooLarge, Transport, TransportError, _environment_proxy

from .sip_http_server import Close, Hold, ScriptedServer, reply

PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                   "no_proxy", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def serve():
    servers = []

    def start(*script, tls: ssl.SSLContext | None = None) -> ScriptedServer:
        servers.append(ScriptedServer(script, tls=tls))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def transport(**options) -> Transport:
    return Transport(**{"pool_size": 2, "timeout": 5.0, **options})


def get(client: Transport, url: str, limit: int = 10_000) -> bytes:
    response = client.request("GET", url)
    return bytes(response.read(limit))


# -- the request on the wire --------------------------------------------------------------------------


def test_a_request_is_written_once_in_origin_form_with_its_length(serve):
    server = serve(reply(b'{"data":1}'))
    headers = {"Authorization": "Civic a.b.c.d", "Content-Type": "application/json"}
    response = transport().request("POST", f"{server.url}/sip/prod/scopeRequest/authCode?x=1", body=b"{}",
                                   headers=headers)
    assert response.status == 200 and bytes(response.read(100)) == b'{"data":1}'
    assert server.requests == [
        b"POST /sip/prod/scopeRequest/authCode?x=1 HTTP/1.1\r\n"
        b"Host: 127.0.0.1:%d\r\nUser-Agent: django-civic\r\nAccept-Encoding: identity\r\n"
        b"Authorization: Civic a.b.c.d\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        % server.port
    ]


@pytest.mark.parametrize("headers", [
    {"Authorization": "Civic x\r\nX-Injected: 1"},
    {"Authorization": "Civic x\nX-Injected: 1"},
    {"Bad Name": "x"},
    {"Authorization": "Civic é"},
])
def test_header_fields_that_could_change_the_framing_are_refused_before_anything_is_sent(serve, headers):
    server = serve(reply())
    with pytest.raises(TransportError) as failure:
        transport().request("GET", f"{server.url}/", headers=headers)
    assert failure.value.kind == "InvalidRequest"
    assert server.connections == 0


@pytest.mark.parametrize("url", [
    "ftp://127.0.0.1/x", "http:///nohost", "http://127.0.0.1:notaport/", "http://exa mple.com/",
    "http://127.0.0.1:1/a b",
])
def test_urls_that_cannot_be_requested_as_given_are_refused(url):
    with pytest.raises(TransportError) as failure:
        transport().request("GET", url)
    assert failure.value.kind in ("InvalidURL", "InvalidRequest")


def test_only_urls_without_a_query_are_remembered(serve):
    # A presigned S3 URL is a one-off credential: it must not stay in the process's memory.
    server = serve(reply(b"a"), reply(b"b"))
    client = transport()
    get(client, f"{server.url}/sip/prod/scopeRequest/authCode")
    get(client, f"{server.url}/payload?X-Amz-Signature=secret")
    assert list(client._prepared) == [f"{server.url}/sip/prod/scopeRequest/authCode"]


# -- kept-alive connections ---------------------------------------------------------------------------


def test_one_connection_carries_successive_requests(serve):
    server = serve(reply(b"one"), reply(b"two"), reply(b"three"))
    client = transport()
    assert [get(client, f"{server.url}/{n}") for n in range(3)] == [b"one", b"two", b"three"]
    assert server.connections == 1


def test_a_connection_the_server_closed_while_idle_is_replaced_before_sending(serve):
    server = serve(reply(b"first"), reply(b"second"))
    client = transport()
    assert get(client, f"{server.url}/1") == b"first"
    server.close_idle_connections()
    assert get(client, f"{server.url}/2") == b"second"
    # The request went once, on a new connection: nothing was written to the closed one.
    assert (server.connections, len(server.requests)) == (2, 2)


def test_a_failure_after_the_request_was_sent_is_reported_and_never_retried(serve):
    server = serve(Close())
    with pytest.raises(TransportError) as failure:
        transport().request("POST", f"{server.url}/exchange", body=b"code")
    assert failure.value.kind == "RemoteDisconnected" and not failure.value.timeout
    assert len(server.requests) == 1  # an auth code is single use: one attempt, whatever happens


def test_a_kept_alive_connection_closed_during_the_request_is_not_retried_either(serve):
    server = serve(reply(b"first"), Close())
    client = transport()
    assert get(client, f"{server.url}/1") == b"first"
    with pytest.raises(TransportError):
        client.request("POST", f"{server.url}/exchange", body=b"code")
    assert (server.connections, len(server.requests)) == (1, 2)


@pytest.mark.parametrize(("answer", "reused"), [
    (reply(b"x"), True),
    (reply(b"x", headers=["Connection: close"]), False),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", False),
    (b"HTTP/1.1 200 OK\r\n\r\nx", False),  # framed by the connection's end
    (reply(b"x") + b"HTTP/1.1 200 OK\r\n", False),  # bytes nobody asked for after the body
])
def test_a_connection_is_reused_only_after_a_cleanly_framed_http11_answer(serve, answer, reused):
    server = serve(Close(answer) if answer.startswith(b"HTTP/1.1 200 OK\r\n\r\n") else answer, reply(b"y"))
    client = transport()
    assert get(client, f"{server.url}/1") == b"x"
    assert get(client, f"{server.url}/2") == b"y"
    assert server.connections == (1 if reused else 2)


def test_idle_connections_beyond_the_pool_size_are_closed(serve):
    server = serve(*[reply(b"x")] * 6)
    client = transport(pool_size=1)
    barrier = threading.Barrier(3)

    def three_at_once() -> None:
        response = client.request("GET", f"{server.url}/")
        barrier.wait(5)
        response.read(10)

    threads = [threading.Thread(target=three_at_once) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert server.connections == 3
    assert len(client._routes[("http", "127.0.0.1", server.port)]._idle) == 1


def test_concurrent_threads_each_get_their_own_answer(serve):
    count = 40
    server = serve(*[reply(b"%d" % n) for n in range(count)])
    client = transport(pool_size=4)
    answers: list[bytes] = []

    def work() -> None:
        for _ in range(count // 8):
            answers.append(get(client, f"{server.url}/"))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    # Each answer read once: no connection was shared by two requests at a time.
    assert sorted(answers, key=int) == [b"%d" % n for n in range(count)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
# Forking is the point here (a pre-fork server's workers); Python 3.12+ warns because the test server runs
# in a thread, which the child does not use.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_does_not_use_its_parents_idle_connections(serve):
    server = serve(reply(b"parent"), reply(b"child"), reply(b"parent again"))
    client = transport()
    assert get(client, f"{server.url}/") == b"parent"
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it got, and leave without running pytest's teardown
        try:
            os.write(write_end, get(client, f"{server.url}/"))
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    assert os.read(read_end, 100) == b"child"
    os.close(read_end)
    assert get(client, f"{server.url}/") == b"parent again"  # the parent's connection still works
    assert server.connections == 2


# -- bodies -------------------------------------------------------------------------------------------


def chunked(*chunks: bytes, trailer: bytes = b"") -> bytes:
    body = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks)
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body + b"0\r\n" + trailer + b"\r\n"


def test_a_chunked_body_is_joined_and_its_connection_reused(serve):
    server = serve(chunked(b"hello ", b"world", trailer=b"X-Sum: 1\r\n"), reply(b"next"))
    client = transport()
    assert get(client, f"{server.url}/") == b"hello world"
    assert get(client, f"{server.url}/") == b"next"
    assert server.connections == 1


@pytest.mark.parametrize("answer", [
    reply(b"x" * 1000),  # declared
    chunked(b"x" * 600, b"x" * 400),  # chunked
    b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 1000,  # until the connection ends
])
def test_a_body_over_the_cap_is_refused_whatever_its_framing_and_the_connection_dropped(serve, answer):
    server = serve(Close(answer) if b"Length" not in answer and b"chunked" not in answer else answer,
                   reply(b"clean"))
    client = transport()
    with pytest.raises(BodyTooLarge):
        client.request("GET", f"{server.url}/big").read(999)
    assert get(client, f"{server.url}/again") == b"clean"
    assert server.connections == 2


def test_a_large_declared_body_is_read_whole(serve):
    payload = os.urandom(3 * 1024 * 1024)
    server = serve(reply(payload))
    assert get(transport(), f"{server.url}/", limit=len(payload)) == payload


@pytest.mark.parametrize(("coding", "encode"), [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send it
])
def test_gzip_and_deflate_bodies_are_decoded(serve, coding, encode):
    server = serve(reply(encode(b"payload " * 100), headers=[f"Content-Encoding: {coding}"]))
    assert get(transport(), f"{server.url}/") == b"payload " * 100


def test_a_compressed_body_is_capped_once_decoded(serve):
    bomb = gzip.compress(b"\0" * 5_000_000)  # 5 MB in 5 KB
    server = serve(reply(bomb, headers=["Content-Encoding: gzip"]))
    with pytest.raises(BodyTooLarge):
        transport().request("GET", f"{server.url}/").read(1_000_000)


def test_an_interim_answer_is_skipped(serve):
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    server = serve(interim + reply(b"x"))
    assert get(transport(), f"{server.url}/") == b"x"


def test_answers_without_a_body(serve):
    server = serve(b"HTTP/1.1 204 No Content\r\n\r\n", reply(b"after"))
    client = transport()
    response = client.request("GET", f"{server.url}/")
    assert response.status == 204 and response.read(10) == b""
    assert get(client, f"{server.url}/") == b"after"
    assert server.connections == 1


@pytest.mark.parametrize(("answer", "kind"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", "IncompleteRead"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "IncompleteRead"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", "InvalidChunkLength"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", "InvalidChunkEnd"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
     "ContentLengthWithTransferEncoding"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "UnsupportedTransferEncoding"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc", "InvalidContentLength"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nab", "InvalidContentLength"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Encoding: br\r\n\r\nab", "UnsupportedContentEncoding"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Encoding: gzip\r\n\r\nab", "DecodeError"),
])
def test_a_malformed_or_ambiguous_body_is_refused(serve, answer, kind):
    server = serve(Close(answer))
    response = transport().request("GET", f"{server.url}/")
    with pytest.raises(TransportError) as failure:
        response.read(10_000)
    assert failure.value.kind == kind


@pytest.mark.parametrize(("answer", "kind"), [
    (b"HTTP/1.1 2000 OK\r\n\r\n", "BadStatusLine"),
    (b"HTTP/2 200\r\n\r\n", "BadStatusLine"),
    (b"ICY 200 OK\r\n\r\n", "BadStatusLine"),
    (b"HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx", "InvalidHeader"),
    (b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 1\r\n\r\nx", "InvalidHeader"),
    (b"HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 1\r\n\r\nx", "InvalidHeader"),
    (b"HTTP/1.1 200 OK\r\nX-A: \x00\r\n\r\n", "InvalidHeader"),
    (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "UnexpectedSwitchingProtocols"),
    (b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n", "HeaderTooLong"),
    (b"HTTP/1.1 200 OK\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n", "TooManyHeaders"),
    (b"HTTP/1.1 200 OK\r\nContent-Le", "RemoteDisconnected"),
])
def test_a_malformed_head_is_refused(serve, answer, kind):
    server = serve(Close(answer))
    with pytest.raises(TransportError) as failure:
        transport().request("GET", f"{server.url}/")
    assert failure.value.kind == kind


# -- time and connecting ------------------------------------------------------------------------------


def test_a_server_that_does_not_answer_times_out_after_the_read_timeout(serve):
    server = serve(Hold())
    started = time.monotonic()
    with pytest.raises(TransportError) as failure:
        transport(timeout=(5.0, 0.3)).request("POST", f"{server.url}/exchange", body=b"code")
    assert failure.value.timeout and failure.value.kind == "ReadTimeoutError"
    assert 0.25 < time.monotonic() - started < 3
    assert len(server.requests) == 1


def test_a_refused_connect_is_retried_and_then_reported():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(TransportError) as failure:
        transport().request("GET", f"http://127.0.0.1:{port}/")
    assert failure.value.kind == "ConnectionRefusedError" and not failure.value.timeout
    assert time.monotonic() - started >= 0.15  # two retries, 0.05 s then 0.1 s apart


def test_a_connect_that_fails_first_then_succeeds_sends_the_request_once():
    # The port is bound but not listening (connects are refused) until the second attempt.
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    received: list[bytes] = []

    def listen_then_answer() -> None:
        time.sleep(0.02)
        listener.listen()
        conn, _ = listener.accept()
        with conn:
            received.append(conn.recv(65536))
            conn.sendall(reply(b"late"))

    thread = threading.Thread(target=listen_then_answer)
    thread.start()
    try:
        assert get(transport(), f"http://127.0.0.1:{port}/") == b"late"
    finally:
        thread.join(5)
        listener.close()
    assert len(received) == 1


def test_a_name_that_does_not_resolve_is_a_transport_error():
    with pytest.raises(TransportError) as failure:
        Transport(pool_size=1, timeout=2.0, connect_retries=0).request("GET", "http://civic.invalid/")
    assert failure.value.kind == "NameResolutionError"


# -- TLS ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, and a certificate it issued for localhost and 127.0.0.1, with the extensions strict X.509
    checking wants (Python 3.13's default context sets VERIFY_X509_STRICT: key identifiers, key usage)."""
    folder = tmp_path_factory.mktemp("pki")
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))

    def issue(name: str, *addresses: x509.GeneralName) -> tuple[str, str]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName(list(addresses)), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return str(cert_path), str(key_path)

    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return {
        "ca": str(folder / "ca.pem"),
        "good": issue("good", x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))),
        "other": issue("other", x509.DNSName("civic.example")),
    }


def tls_server(pki, which: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*pki[which])
    return context


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_https_verifies_the_certificate_against_the_configured_bundle(serve, pki, monkeypatch, variable):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv(variable, pki["ca"])
    server = serve(reply(b"secure"), reply(b"again"), tls=tls_server(pki, "good"))
    client = transport()
    assert get(client, f"{server.url}/") == b"secure"
    assert get(client, f"{server.url}/") == b"again"
    assert server.connections == 1


def test_https_refuses_a_certificate_from_an_unknown_issuer(serve, pki, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)  # certifi's bundle does not know our test CA
    server = serve(reply(b"never"), tls=tls_server(pki, "good"))
    with pytest.raises(TransportError) as failure:
        transport().request("GET", f"{server.url}/")
    assert failure.value.kind == "SSLCertVerificationError"
    assert server.requests == []


def test_https_refuses_a_certificate_for_another_host(serve, pki, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", pki["ca"])
    server = serve(reply(b"never"), tls=tls_server(pki, "other"))
    with pytest.raises(TransportError) as failure:
        transport().request("GET", f"{server.url}/")
    assert failure.value.kind == "SSLCertVerificationError"
    assert server.requests == []


def test_a_missing_ca_bundle_fails_every_https_request_clearly(pki, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", pki["ca"] + ".missing")
    with pytest.raises(TransportError) as failure:
        transport().request("GET", "https://127.0.0.1:1/")
    assert failure.value.kind.startswith("CABundleError")


# -- proxies ------------------------------------------------------------------------------------------


def test_the_environments_proxy_is_used_as_requests_would(serve, monkeypatch):
    # The scripted server plays the proxy: a request through it carries the absolute URL.
    server = serve(reply(b"via proxy"))
    monkeypatch.setenv("http_proxy", server.url)
    response = transport().request("GET", "http://civic.invalid/sip/payload/abc")
    assert response.status == 200 and bytes(response.read(100)) == b"via proxy"
    assert server.requests[0].startswith(b"GET http://civic.invalid/sip/payload/abc HTTP/1.1\r\n")


def test_a_body_through_the_proxy_is_capped_too(serve, monkeypatch):
    server = serve(reply(b"x" * 1000))
    monkeypatch.setenv("http_proxy", server.url)
    with pytest.raises(BodyTooLarge):
        transport().request("GET", "http://civic.invalid/big").read(999)


def test_no_proxy_bypasses_the_proxy(monkeypatch):
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("no_proxy", "civic.invalid")
    assert _environment_proxy("http", "civic.invalid") is None
    assert _environment_proxy("http", "other.invalid") == "http://127.0.0.1:9"
