"""Every outgoing HTTP call goes through ``django_civic/protocols/http.py`` (requests), against real sockets.

What the protocol clients rely on: one request per auth code and never a second (an auth code is single
use): retries only of connects that sent nothing, stale kept-alive connections replaced before anything is
sent; bodies capped whatever their framing or encoding; timeouts; TLS verification; proxies and
``NO_PROXY`` as requests does them; one session per process; ``Retry-After`` in both of its forms.
HTTP framing itself is requests' and urllib3's, and is not tested here.
"""

from __future__ import annotations

import datetime
import email.utils
import gzip
import ipaddress
import os
import socket
import ssl
import threading
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from django_civic.protocols import http
from django_civic.protocols.civic_auth import OIDCClient, OIDCError, ProviderUnavailable
from django_civic.protocols.idemia import ProofingClient
from django_civic.protocols.idemia import errors as proofing_errors
from django_civic.protocols.sip import errors as sip_errors
from django_civic.sandbox import defaults
from django_civic.sip import SIPClient

from .scripted_http_server import Close, Hold, ScriptedServer, reply

ERRORS = (sip_errors.SIPError, OIDCError, proofing_errors.ProofingError)
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


def get(session: requests.Session, url: str, limit: int = 10_000, timeout=5.0) -> bytes:
    return http.read_capped(http.send(session, "GET", url, timeout=timeout), limit)


def sip_client(url: str, **options) -> SIPClient:
    """The sandbox app's client pointed at ``url`` (a scripted server): its answers are never verified
    here, only what goes on the wire and how failures are reported."""
    return SIPClient(defaults.SIP_APP_ID, defaults.SIP_APP_SECRET, defaults.SIP_APP_PRIVATE_KEY,
                     api_url=f"{url}/sip/", civic_public_key=defaults.SIP_CIVIC_PUBLIC_KEY, **options)


def exchange(client: SIPClient) -> None:
    client.exchange_code("a.b.c", claims={})  # claims given: no local pre-check, straight to the wire


# -- what goes on the wire, and what is never sent twice ---------------------------------------------------


def test_the_exchange_is_one_request_with_its_length_and_a_5xx_is_not_retried(serve):
    server = serve(reply(b"{}", status="500 Internal Server Error"), reply(b"{}"))
    with pytest.raises(sip_errors.SIPUpstreamError):
        exchange(sip_client(server.url))
    assert len(server.requests) == 1
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /sip/prod/scopeRequest/authCode HTTP/1.1"
    assert {b"Content-Length: %d" % len(body), b"User-Agent: django-civic", b"Accept-Encoding: identity",
            b"Content-Type: application/json"} <= set(lines)
    assert body == b'{"authToken":"a.b.c","allowS3UploadedPayload":true}'


def test_a_failure_after_the_request_was_sent_is_reported_and_never_retried(serve):
    server = serve(Close())
    with pytest.raises(sip_errors.SIPConnectionError):
        exchange(sip_client(server.url))
    assert len(server.requests) == 1  # an auth code is single use: one attempt, whatever happens


def test_a_kept_alive_connection_closed_during_the_request_is_not_retried_either(serve):
    server = serve(reply(b"first"), Close())
    session = http.new_session()
    assert get(session, f"{server.url}/1") == b"first"
    with pytest.raises(requests.ConnectionError):
        http.send(session, "POST", f"{server.url}/exchange", data=b"code", timeout=5.0)
    assert (server.connections, len(server.requests)) == (1, 2)


def test_one_connection_carries_successive_requests(serve):
    server = serve(reply(b"one"), reply(b"two"), reply(b"three"))
    session = http.new_session()
    assert [get(session, f"{server.url}/{n}") for n in range(3)] == [b"one", b"two", b"three"]
    assert server.connections == 1


def test_a_connection_the_server_closed_while_idle_is_replaced_before_sending(serve):
    server = serve(reply(b"first"), reply(b"second"))
    session = http.new_session()
    assert get(session, f"{server.url}/1") == b"first"
    server.close_idle_connections()
    assert get(session, f"{server.url}/2") == b"second"
    # The request went once, on a new connection: nothing was written to the closed one.
    assert (server.connections, len(server.requests)) == (2, 2)


def test_concurrent_threads_each_get_their_own_answer(serve):
    count = 40
    server = serve(*[reply(b"%d" % n) for n in range(count)])
    session = http.new_session(pool_size=4)
    answers: list[bytes] = []

    def work() -> None:
        for _ in range(count // 8):
            answers.append(get(session, f"{server.url}/"))

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
def test_a_forked_child_does_not_use_its_parents_pooled_connections(serve):
    server = serve(reply(b"parent"), reply(b"child"), reply(b"parent again"))
    sessions = http.ProcessSession()
    assert get(sessions.get(), f"{server.url}/") == b"parent"
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it got, and leave without running pytest's teardown
        try:
            os.write(write_end, get(sessions.get(), f"{server.url}/"))
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    assert os.read(read_end, 100) == b"child"
    os.close(read_end)
    assert get(sessions.get(), f"{server.url}/") == b"parent again"  # the parent's connection still works
    assert server.connections == 2


# -- bodies -------------------------------------------------------------------------------------------------


def chunked(*chunks: bytes) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks)
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body + b"0\r\n\r\n"


@pytest.mark.parametrize("answer", [
    reply(b"x" * 1000),  # declared
    chunked(b"x" * 600, b"x" * 400),  # chunked
    Close(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 1000),  # until the connection ends
    reply(gzip.compress(b"\0" * 5_000_000), headers=["Content-Encoding: gzip"]),  # 5 MB in 5 KB
], ids=["declared", "chunked", "to-the-end", "gzip-bomb"])
def test_a_body_over_the_cap_is_refused_whatever_its_framing_and_the_connection_dropped(serve, answer):
    server = serve(answer, reply(b"clean"))
    session = http.new_session()
    with pytest.raises(http.BodyTooLarge):
        get(session, f"{server.url}/big", limit=999)
    assert get(session, f"{server.url}/again") == b"clean"
    assert server.connections == 2


def test_a_body_over_the_cap_is_the_clients_own_error(serve):
    server = serve(reply(b"x" * 20_000, status="400 Bad Request"))
    # The error body is read under 16 KB: over that, the message says so instead of quoting it.
    with pytest.raises(sip_errors.SIPBadRequest) as failure:
        exchange(sip_client(server.url))
    assert "(unreadable body)" in str(failure.value)


def test_a_large_declared_body_is_read_whole(serve):
    payload = os.urandom(3 * 1024 * 1024)
    server = serve(reply(payload))
    assert get(http.new_session(), f"{server.url}/", limit=len(payload)) == payload


# -- time and connecting ------------------------------------------------------------------------------------


def test_a_server_that_does_not_answer_times_out_after_the_read_timeout(serve):
    server = serve(Hold())
    started = time.monotonic()
    with pytest.raises(sip_errors.SIPTimeout):
        exchange(sip_client(server.url, timeout=(5.0, 0.3)))
    assert 0.25 < time.monotonic() - started < 3
    assert len(server.requests) == 1


def test_a_refused_connect_is_retried_and_then_reported():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(sip_errors.SIPConnectionError):
        exchange(sip_client(f"http://127.0.0.1:{port}"))
    assert time.monotonic() - started >= 0.1  # two retries, at once and then 0.1 s later


def test_a_connect_that_fails_first_then_succeeds_sends_the_request_once():
    # The port is bound but not listening (connects are refused) until a later attempt.
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
        assert get(http.new_session(), f"http://127.0.0.1:{port}/") == b"late"
    finally:
        thread.join(5)
        listener.close()
    assert len(received) == 1


def test_a_name_that_does_not_resolve_is_the_clients_connection_error():
    with pytest.raises(sip_errors.SIPConnectionError):
        exchange(sip_client("http://civic.invalid"))


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
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       key_cert_sign=True, crl_sign=True, encipher_only=False,
                                       decipher_only=False), critical=True)
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
    session = http.new_session()
    assert get(session, f"{server.url}/") == b"secure"
    assert get(session, f"{server.url}/") == b"again"
    assert server.connections == 1


def test_https_refuses_a_certificate_from_an_unknown_issuer(serve, pki, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)  # certifi's bundle does not know our test CA
    server = serve(reply(b"never"), tls=tls_server(pki, "good"))
    with pytest.raises(sip_errors.SIPConnectionError) as failure:
        exchange(sip_client(server.url))
    assert "SSLError" in str(failure.value)
    assert server.requests == []


def test_https_refuses_a_certificate_for_another_host(serve, pki, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", pki["ca"])
    server = serve(reply(b"never"), tls=tls_server(pki, "other"))
    with pytest.raises(requests.exceptions.SSLError):
        get(http.new_session(), f"{server.url}/")
    assert server.requests == []


@pytest.mark.parametrize("kind", ["sip", "oidc", "idemia"])
def test_a_missing_ca_bundle_is_each_clients_connection_error(pki, monkeypatch, kind):
    # requests raises a bare OSError for it (not a RequestException): no client may let that through.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", pki["ca"] + ".missing")
    url = "https://127.0.0.1:1/"
    calls = {
        "sip": (lambda: exchange(sip_client(url.rstrip("/"))), sip_errors.SIPConnectionError),
        "oidc": (lambda: OIDCClient(url, "client").metadata(), ProviderUnavailable),
        "idemia": (lambda: idemia_client(url).access_token(), proofing_errors.ProofingConnectionError),
    }
    call, error = calls[kind]
    with pytest.raises(error):
        call()


# -- proxies ------------------------------------------------------------------------------------------------


def idemia_client(url: str) -> ProofingClient:
    return ProofingClient(token_url=f"{url}idemia/oauth2/token", client_id=defaults.IDEMIA_CLIENT_ID,
                          client_secret=defaults.IDEMIA_CLIENT_SECRET, rp_handler_url=f"{url}idemia/rp/",
                          gips_url=f"{url}idemia/gips/", api_key=defaults.IDEMIA_API_KEY, timeout=5.0)


def one_call(kind: str, sandbox):
    """A fresh client of ``kind`` making one real call to the sandbox; returns the call."""
    if kind == "sip":
        code = sandbox.mint_code()["authToken"]  # minted now, before a test sets a proxy
        client = sandbox.sip_client()
        return lambda: client.exchange_code(code).user_id
    if kind == "oidc":
        client = OIDCClient(sandbox.oidc_issuer, sandbox.oidc_client_id, sandbox.oidc_client_secret)
        return lambda: client.metadata().issuer
    client = idemia_client(sandbox.url)
    return client.access_token


def test_the_environments_proxy_is_used_as_requests_would(serve, monkeypatch):
    # The scripted server plays the proxy: a request through it carries the absolute URL.
    server = serve(reply(b"via proxy"))
    monkeypatch.setenv("http_proxy", server.url)
    assert get(http.new_session(), "http://civic.invalid/sip/payload/abc") == b"via proxy"
    assert server.requests[0].startswith(b"GET http://civic.invalid/sip/payload/abc HTTP/1.1\r\n")


@pytest.mark.parametrize("kind", ["sip", "oidc", "idemia"])
def test_no_proxy_with_a_cidr_range_bypasses_the_proxy(civic_sandbox, serve, monkeypatch, kind):
    proxy = serve(*[reply(b"{}", status="503 Service Unavailable")] * 3)
    proxied, bypassing = one_call(kind, civic_sandbox), one_call(kind, civic_sandbox)
    with monkeypatch.context() as environment:  # undone before the sandbox fixture's own requests
        environment.setenv("http_proxy", proxy.url)
        # Without NO_PROXY the call goes to the proxy (which answers 503): the stub sees what is proxied.
        with pytest.raises(ERRORS):
            proxied()
        seen = len(proxy.requests)
        assert seen >= 1 and proxy.requests[0].split(b" ")[1].startswith(civic_sandbox.url.encode())
        # The sandbox is at 127.0.0.1: a range that holds it sends the call straight there.
        environment.setenv("no_proxy", "127.0.0.0/8")
        assert bypassing()
        assert len(proxy.requests) == seen


def test_a_netrc_entry_never_replaces_the_credentials_a_client_sends(serve, tmp_path, monkeypatch):
    """requests with trust_env lets ~/.netrc override an Authorization header: a client secret or bearer
    token would go out as someone else's password."""
    server = serve(reply(b"ok"))
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login intruder password stolen\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    response = http.send(http.new_session(), "GET", f"{server.url}/", timeout=5.0,
                         headers={"Authorization": "Bearer the-clients-token"})
    assert http.read_capped(response, 100) == b"ok"
    assert b"\r\nAuthorization: Bearer the-clients-token\r\n" in server.requests[0]


def test_a_cookie_one_call_received_never_goes_out_with_the_next(serve):
    """One session per process carries every user's calls: a cookie set while exchanging one user's code
    must not reach the provider with the next user's."""
    server = serve(reply(b"first", headers=["Set-Cookie: provider_session=alice; Path=/"]), reply(b"second"))
    session = http.new_session()
    assert get(session, f"{server.url}/token") == b"first"
    assert get(session, f"{server.url}/token") == b"second"
    assert b"Cookie:" not in server.requests[1] and b"alice" not in server.requests[1]


def test_a_header_set_to_none_is_left_out_as_requests_does(serve):
    server = serve(reply(b"ok"))
    response = http.send(http.new_session(), "GET", f"{server.url}/", timeout=5.0,
                         headers={"Accept": None, "X-Extra": "yes"})
    assert http.read_capped(response, 100) == b"ok"
    assert b"Accept:" not in server.requests[0] and b"X-Extra: yes" in server.requests[0]


def test_the_environment_is_read_once_per_origin_not_on_every_call(serve, monkeypatch):
    server = serve(reply(b"first"), reply(b"second"))
    session = http.new_session()
    assert get(session, f"{server.url}/") == b"first"
    # A proxy set afterwards is not seen by this session's calls to the same origin.
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9/")
    assert get(session, f"{server.url}/again") == b"second"


# -- Retry-After --------------------------------------------------------------------------------------------


def rate_limited(kind: str, sandbox, retry_after) -> BaseException:
    """The error of a call that the sandbox answered 429 with ``Retry-After: <retry_after>``."""
    channel = {"sip": "sip.exchange", "oidc": "oidc.discovery", "idemia": "idemia.token"}[kind]
    call = one_call(kind, sandbox)
    sandbox.inject_fault(channel, "status", status=429, retry_after=retry_after)
    with pytest.raises(ERRORS) as failure:
        call()
    return failure.value


@pytest.mark.parametrize("kind", ["sip", "oidc", "idemia"])
def test_retry_after_as_an_http_date_is_the_seconds_until_then(civic_sandbox, kind):
    then = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=120)
    error = rate_limited(kind, civic_sandbox, email.utils.format_datetime(then, usegmt=True))
    assert 115 <= error.retry_after <= 120, error.retry_after


@pytest.mark.parametrize("kind", ["sip", "oidc", "idemia"])
@pytest.mark.parametrize(("value", "seconds"), [
    ("7", 7), (" 7 ", 7), ("soon", None), ("-5", None), ("1.5", None),
    ("Wed, 32 Foo 2026 99:00:00 GMT", None),
    ("Thu, 01 Jan 1970 00:00:00 GMT", 0),
])
def test_retry_after_values_of_any_shape_never_crash_the_client(civic_sandbox, kind, value, seconds):
    assert rate_limited(kind, civic_sandbox, value).retry_after == seconds


def test_retry_after_with_more_digits_than_int_converts_is_none():
    assert http.retry_after("9" * 5000) is None
    assert http.retry_after(None) is None
