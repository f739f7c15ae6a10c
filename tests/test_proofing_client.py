"""The pure IDEMIA client (django_civic.protocols.idemia) against the sandbox, over real HTTP."""

from __future__ import annotations

import base64
import io
import json
import threading
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from django_civic.protocols.idemia import (
    CallbackError,
    ProofingClient,
    ProofingConfigurationError,
    ProofingInvalidIdentifier,
    ProofingMalformedResponse,
    ProofingNotFound,
    ProofingUnauthorized,
    ProofNotReady,
    errors,
    parse_callback,
    parse_identity,
)
from django_civic.protocols.idemia.parsing import extract_proof
from django_civic.sandbox import defaults
from django_civic.sandbox.idemia.gips import BOUNDARY_LOOKALIKES
from django_civic.sandbox.idemia.testing import RecordingServer

SECRETS = (defaults.IDEMIA_CLIENT_SECRET, defaults.IDEMIA_API_KEY)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_client(url: str, **overrides) -> ProofingClient:
    options = dict(
        token_url=f"{url}idemia/oauth2/token", client_id=defaults.IDEMIA_CLIENT_ID,
        client_secret=defaults.IDEMIA_CLIENT_SECRET, rp_handler_url=f"{url}idemia/rp/",
        gips_url=f"{url}idemia/gips/", api_key=defaults.IDEMIA_API_KEY, timeout=5.0,
    )
    options.update(overrides)
    return ProofingClient(**options)


@pytest.fixture
def client(civic_sandbox):
    return make_client(civic_sandbox.url)


def finished_identity(civic_sandbox, client, outcome="VERIFIED", **kwargs) -> str:
    """A session completed in the sandbox (no callback URL, so nothing is sent); its identity id."""
    session_id = client.create_session()
    return civic_sandbox.idemia_complete(session_id, outcome, **kwargs)["identity_id"]


def assert_no_secret(exc: Exception) -> None:
    text = f"{exc} {exc!r}"
    for secret in SECRETS:
        assert secret not in text


# -- step 1: the access token ----------------------------------------------------------------------


def test_token_is_cached_across_calls(civic_sandbox, client):
    client.create_session()
    client.create_session()
    assert civic_sandbox.idemia_state()["counters"]["tokens_issued"] == 1


def test_concurrent_callers_share_one_token_request(civic_sandbox, client):
    # The token endpoint is slow: every caller arriving meanwhile must wait for that one request.
    civic_sandbox.inject_fault("idemia.token", "latency", delay=0.4)
    tokens: list[str] = []
    threads = [threading.Thread(target=lambda: tokens.append(client.access_token())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(tokens) == 8 and len(set(tokens)) == 1
    assert civic_sandbox.idemia_state()["counters"]["tokens_issued"] == 1


def test_token_is_refreshed_shortly_before_it_expires(civic_sandbox):
    civic_sandbox.idemia_configure(token_ttl=100)
    clock = FakeClock()
    client = make_client(civic_sandbox.url, clock=clock)
    first = client.access_token()
    clock.now += 89  # 100 s lifetime, refreshed 10 s (a tenth) early
    assert client.access_token() == first
    clock.now += 2
    assert client.access_token() != first
    assert civic_sandbox.idemia_state()["counters"]["tokens_issued"] == 2


def test_a_revoked_token_is_replaced_once(civic_sandbox, client):
    client.create_session()
    civic_sandbox.reset()  # the sandbox forgets every token: ours is now refused with 401
    assert client.create_session()
    assert civic_sandbox.idemia_state()["counters"]["tokens_issued"] == 1


def test_wrong_client_secret_is_unauthorized_and_not_echoed(civic_sandbox):
    client = make_client(civic_sandbox.url, client_secret="not-the-secret-xyz")
    with pytest.raises(ProofingUnauthorized) as caught:
        client.create_session()
    assert "not-the-secret-xyz" not in f"{caught.value} {caught.value!r}"
    assert caught.value.retryable is False


@pytest.mark.parametrize(
    ("fault", "error", "retryable"),
    [
        ({"kind": "status", "status": 500}, errors.ProofingUpstreamError, True),
        ({"kind": "status", "status": 429, "retry_after": 7}, errors.ProofingRateLimited, True),
        ({"kind": "status", "status": 400}, errors.ProofingBadRequest, False),
        ({"kind": "malformed"}, ProofingMalformedResponse, False),
        (
            {"kind": "malformed", "body": '{"access_token": "", "expires_in": 3600}'},
            ProofingMalformedResponse,
            False,
        ),
        (
            {"kind": "malformed", "body": '{"access_token": "abc", "token_type": "MAC"}'},
            ProofingMalformedResponse,
            False,
        ),
        ({"kind": "malformed", "body": '{"a":' * 3000}, ProofingMalformedResponse, False),
        # A lone surrogate is valid JSON but no text: it would break the Authorization header built from it.
        ({"kind": "malformed",
          "body": '{"access_token": "a\\ud800", "expires_in": 3600, "token_type": "Bearer"}'},
         ProofingMalformedResponse, False),
        ({"kind": "status", "status": 302}, ProofingMalformedResponse, False),
    ],
)
def test_token_endpoint_failures_are_typed(civic_sandbox, client, fault, error, retryable):
    civic_sandbox.inject_fault("idemia.token", **fault)
    with pytest.raises(error) as caught:
        client.access_token()
    assert caught.value.retryable is retryable
    assert_no_secret(caught.value)
    if fault.get("retry_after"):
        assert caught.value.retry_after == 7


def test_timeouts_are_typed(civic_sandbox):
    client = make_client(civic_sandbox.url, timeout=0.3)
    civic_sandbox.inject_fault("idemia.token", "timeout", seconds=2)
    with pytest.raises(errors.ProofingTimeout) as caught:
        client.access_token()
    assert caught.value.retryable


def test_unreachable_service_is_a_connection_error():
    client = make_client("http://127.0.0.1:9/")
    with pytest.raises(errors.ProofingConnectionError):
        client.access_token()


# -- steps 2 and 3: session and start URL ----------------------------------------------------------


def test_create_session_sends_our_urls(civic_sandbox, client):
    session_id = client.create_session(callback_url="https://site.example/cb/x/", goto_url="https://site.example/done/")
    recorded = civic_sandbox.idemia_session(session_id)
    assert recorded["callback_url"] == "https://site.example/cb/x/"
    assert recorded["goto_url"] == "https://site.example/done/"


def test_start_url_is_the_rp_handler_start_page(civic_sandbox, client):
    session_id = client.create_session()
    assert (
        client.start_url(session_id)
        == f"{civic_sandbox.url}idemia/rp/api/v1/ipa/start?session-id={session_id}"
    )
    with pytest.raises(ProofingInvalidIdentifier):
        client.start_url("x&evil=1")


def test_the_portals_create_session_url_is_accepted_as_base(civic_sandbox):
    client = make_client(civic_sandbox.url, rp_handler_url=f"{civic_sandbox.url}idemia/rp/api/v1/sessions")
    assert client.rp_handler_url == f"{civic_sandbox.url}idemia/rp/"
    assert client.create_session()


@pytest.mark.parametrize("fault", [{"kind": "malformed", "body": '{"sessionId": "../../x"}'},
                                   {"kind": "malformed", "body": "[]"}])
def test_session_response_is_validated(civic_sandbox, client, fault):
    civic_sandbox.inject_fault("idemia.session", **fault)
    with pytest.raises(ProofingMalformedResponse):
        client.create_session()


def test_rp_handler_refusal_after_a_fresh_token_is_unauthorized(civic_sandbox, client):
    civic_sandbox.inject_fault("idemia.session", "status", status=401, count=2)
    with pytest.raises(ProofingUnauthorized):
        client.create_session()
    assert civic_sandbox.idemia_state()["counters"]["tokens_issued"] == 2


@pytest.mark.parametrize("options", [
    {"api_key": ""}, {"client_id": ""}, {"gips_url": "ftp://x/"}, {"token_url": "not a url"},
    {"rp_handler_url": "https://x/?q=1"},
])
def test_configuration_is_checked(options):
    with pytest.raises(ProofingConfigurationError):
        make_client("https://idemia.example/", **options)


def test_repr_holds_no_secret(client):
    text = repr(client) + repr(client._tokens)
    assert all(secret not in text for secret in SECRETS)


# -- step 5: GIPS identity and proof ---------------------------------------------------------------


def test_identity_is_fetched_and_parsed(civic_sandbox, client):
    identity_id = finished_identity(civic_sandbox, client, persona="bob")
    record = client.get_identity(identity_id)
    assert record.identity_id == identity_id
    assert record.level_of_assurance == "LOA3" and record.meets("LOA2") and not record.meets("LOA4")
    assert record.is_final
    assert record.person.given_names == "Bob" and record.person.surname == "Stone"
    assert record.document.document_type == "IDENTITY_CARD" and record.document.issuing_country == "FRA"
    assert record.document.document_number == "FR9988776" and record.document.status == "VERIFIED"
    assert record.created_at is not None
    # Personal data never reaches a repr (hence logs and tracebacks).
    assert "Stone" not in repr(record) and "FR9988776" not in repr(record)


def test_identity_fetch_sends_the_api_key_and_no_bearer(civic_sandbox):
    client = make_client(civic_sandbox.url, api_key="wrong-key")
    identity_id = finished_identity(civic_sandbox, make_client(civic_sandbox.url))
    with pytest.raises(ProofingUnauthorized) as caught:
        client.get_identity(identity_id)
    assert "wrong-key" not in str(caught.value)


def test_not_verified_identity(civic_sandbox, client):
    record = client.get_identity(finished_identity(civic_sandbox, client, "NOT_VERIFIED"))
    assert record.level_of_assurance == "LOA0" and not record.meets("LOA1")
    assert record.document.status == "NOT_VERIFIED"


def test_processing_identity_is_not_final(civic_sandbox, client):
    identity_id = finished_identity(civic_sandbox, client)
    civic_sandbox.inject_fault("idemia.gips", "processing")
    assert not client.get_identity(identity_id).is_final
    assert client.get_identity(identity_id).is_final


@pytest.mark.parametrize("bad_id", ["../../admin", "gips-123", "https://evil.example/x", "", "gips-%2e%2e"])
def test_identity_ids_are_validated_before_any_request(bad_id):
    client = make_client("http://127.0.0.1:9/")  # would raise ConnectionError if a request were made
    with pytest.raises(ProofingInvalidIdentifier):
        client.get_identity(bad_id)
    with pytest.raises(ProofingInvalidIdentifier):
        client.get_proof(bad_id)


def test_unknown_identity_is_not_found(civic_sandbox, client):
    with pytest.raises(ProofingNotFound):
        client.get_identity("gips-2d4ac3d2-053c-4f9e-9ef0-c9a0f251c667")


def test_proof_is_extracted_and_closes_the_transaction(civic_sandbox, client):
    identity_id = finished_identity(civic_sandbox, client)
    archive = client.get_proof(identity_id)
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert any(name.startswith(f"{identity_id}_") and name.endswith("/proof.json") for name in names)
    assert archive.content_type == "application/zip"
    # IDEMIA deletes the data once the proof is fetched.
    with pytest.raises(ProofingNotFound):
        client.get_identity(identity_id)
    with pytest.raises(ProofingNotFound):
        client.get_proof(identity_id)
    assert civic_sandbox.idemia_identity(identity_id)["proof_fetches"] == 1


def test_proof_answers_403_while_processing(civic_sandbox, client):
    identity_id = finished_identity(civic_sandbox, client)
    civic_sandbox.inject_fault("idemia.proof", "processing")
    with pytest.raises(ProofNotReady) as caught:
        client.get_proof(identity_id)
    assert caught.value.retryable
    assert client.get_proof(identity_id).size > 0
    stats = civic_sandbox.idemia_identity(identity_id)
    assert stats["proof_refusals"] == 1 and stats["proof_fetches"] == 1


def test_proof_size_is_capped(civic_sandbox):
    client = make_client(civic_sandbox.url, max_proof_bytes=100)
    with pytest.raises(errors.ProofingResponseTooLarge):
        client.get_proof(finished_identity(civic_sandbox, client))


def test_redirects_are_never_followed_with_our_api_key():
    # A GIPS that redirects elsewhere: following it would hand our apikey header to the other host.
    with RecordingServer(default_status=200) as elsewhere:
        with RecordingServer(default_status=302, headers={"Location": elsewhere.url}) as gips:
            client = make_client("http://127.0.0.1:9/", gips_url=gips.url)
            with pytest.raises(ProofingMalformedResponse):
                client.get_identity("gips-2d4ac3d2-053c-4f9e-9ef0-c9a0f251c667")
            assert len(gips.requests) == 1
            assert gips.requests[0]["headers"].get("apikey") == defaults.IDEMIA_API_KEY
        assert elsewhere.requests == []


# -- parsing ---------------------------------------------------------------------------------------

VALID_CALLBACK = {
    "applicationId": "1l5lv91ugi401pieqpcd77bc1l",
    "identityId": "gips-2d4ac3d2-053c-4f9e-9ef0-c9a0f251c667",
    "sessionId": "ba7ce9dc-c182-4907-875c-ce1942239099",
    "proofUrl": "https://proofing.idemia.io/gips/v1/identities/gips-2d4ac3d2-053c-4f9e-9ef0-c9a0f251c667/proof",
    "timestamp": 1733294237.9188666,
}


def test_parse_callback_documented_example():
    notice = parse_callback(json.dumps(VALID_CALLBACK).encode())
    assert notice.session_id == VALID_CALLBACK["sessionId"]
    assert notice.identity_id == VALID_CALLBACK["identityId"]
    assert notice.status is None and not notice.ended_abnormally
    assert not hasattr(notice, "proof_url")  # never kept, so never followed


def test_parse_callback_abnormal_end_without_identity():
    body = {k: v for k, v in VALID_CALLBACK.items() if k not in ("identityId", "proofUrl")}
    notice = parse_callback(json.dumps({**body, "status": "HEARTBEAT_TIMEOUT"}).encode())
    assert notice.identity_id is None and notice.status == "HEARTBEAT_TIMEOUT" and notice.ended_abnormally


@pytest.mark.parametrize("change", [
    {"sessionId": None}, {"sessionId": "a/b"}, {"sessionId": 5}, {"applicationId": None},
    {"applicationId": "x" * 200}, {"timestamp": "1733294237"}, {"timestamp": True}, {"timestamp": None},
    {"identityId": "../../etc"}, {"identityId": 7}, {"status": ["ERROR"]}, {"status": "ERR OR"},
    {"proofUrl": 5},
])
def test_parse_callback_refuses_malformed_fields(change):
    body = {**VALID_CALLBACK, **change}
    with pytest.raises(CallbackError) as caught:
        parse_callback(json.dumps(body).encode())
    # The message names the problem, never the value sent.
    for value in change.values():
        if isinstance(value, str) and len(value) > 3:
            assert value not in str(caught.value)


@pytest.mark.parametrize(
    "body", [b"", b"[]", b"nul", b"\xff\xfe", b'{"a":' * 5000, b'{"a":' * 3000, b"[" * 3000, b"1" * 20000]
)
def test_parse_callback_refuses_non_objects(body):
    with pytest.raises(CallbackError):
        parse_callback(body)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-32-le"])
def test_parse_callback_reads_utf8_only(encoding):
    # JSON is UTF-8 (RFC 8259); json.loads(bytes) would silently take these too.
    with pytest.raises(CallbackError):
        parse_callback(json.dumps(VALID_CALLBACK).encode(encoding))


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.dictionaries(
            st.sampled_from(list(VALID_CALLBACK) + ["status"]),
            st.one_of(st.none(), st.text(max_size=50), st.integers(), st.floats(), st.booleans()),
        ),
    )
)
def test_parse_callback_never_fails_any_other_way(data):
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    try:
        parse_callback(body)
    except CallbackError:
        pass


def test_parse_identity_requires_status_and_level():
    with pytest.raises(ProofingMalformedResponse):
        parse_identity({"globalStatus": {"status": "EXPECTING_INPUT"}}, "gips-x")
    with pytest.raises(ProofingMalformedResponse):
        parse_identity([], "gips-x")
    with pytest.raises(ProofingMalformedResponse):
        parse_identity(
            {"globalStatus": {"id": "gips-other", "status": "X", "levelOfAssurance": "LOA1"}}, "gips-x"
        )


def test_parse_identity_without_documents_is_an_empty_identity():
    record = parse_identity(
        {"globalStatus": {"status": "EXPECTING_INPUT", "levelOfAssurance": "LOA0"}}, "gips-x"
    )
    assert record.document is None and record.person.given_names == "" and record.is_final


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(
                st.sampled_from(
                    [
                        "globalStatus",
                        "status",
                        "levelOfAssurance",
                        "idDocuments",
                        "idDocumentData",
                        "personalAttributes",
                        "givenNames",
                        "value",
                        "evidenceStatus",
                        "portrait",
                        "creationDateTime",
                    ]
                ),
                children,
                max_size=5,
            ),
        ),
        max_leaves=30,
    )
)
def test_parse_identity_never_fails_any_other_way(payload):
    try:
        parse_identity(payload, "gips-x")
    except ProofingMalformedResponse:
        pass


def _zip_holding(*files: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # stored, so the files' bytes appear as they are
        for name, data in files:
            archive.writestr(name, data)
    return buffer.getvalue()


def _envelope(part: bytes, *headers: str, boundary: str = "b") -> bytes:
    head = "".join(f"{header}\r\n" for header in ("Content-Type: application/zip", *headers))
    return f"--{boundary}\r\n{head}\r\n".encode() + part + f"\r\n--{boundary}--\r\n".encode()


def test_a_base64_part_yields_the_archive_not_its_base64_text():
    archive = _zip_holding(("root/proof.json", b"{}"))
    part = base64.encodebytes(archive).replace(b"\n", b"\r\n")
    envelope = _envelope(part, "Content-Transfer-Encoding: base64")
    assert extract_proof('multipart/mixed; boundary="b"', envelope) == (archive, "application/zip")


def test_boundary_like_bytes_inside_the_archive_do_not_cut_it():
    # Starts of delimiters that are not delimiters: more text after the boundary, the boundary in mid-line,
    # the close delimiter's shape followed by more (RFC 2046 5.1.1).
    archive = _zip_holding(
        ("root/proof.json", b"{}"),
        ("root/note.txt", b"\r\n--b-not-the-end\r\nmid-line --b\r\n--b--but-not-closed\r\n"))
    assert extract_proof("multipart/mixed; boundary=b", _envelope(archive)) == (archive, "application/zip")


def test_the_sandbox_proof_in_base64_arrives_whole(civic_sandbox, client):
    identity_id = finished_identity(civic_sandbox, client)
    civic_sandbox.inject_fault("idemia.proof", "base64")
    archive = client.get_proof(identity_id)
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert any(name.endswith("/proof.json") for name in names)


def test_the_sandbox_proof_with_boundary_like_bytes_arrives_whole(civic_sandbox, client):
    identity_id = finished_identity(civic_sandbox, client)
    civic_sandbox.inject_fault("idemia.proof", "boundary_text")
    archive = zipfile.ZipFile(io.BytesIO(client.get_proof(identity_id).content))
    note = next(name for name in archive.namelist() if name.endswith("/images/note.txt"))
    assert archive.read(note) == BOUNDARY_LOOKALIKES
    assert archive.testzip() is None


MALFORMED_ENVELOPES = [
    ("multipart/mixed", _envelope(b"PK\x03\x04data")),  # no boundary parameter
    ("multipart/mixed; boundary=b", b"--b--\r\n"),  # no part at all
    ("multipart/mixed; boundary=b", b"PK\x03\x04 no delimiter anywhere"),
    ("multipart/mixed; boundary=b", b"--b\r\nContent-Type: application/zip\r\n\r\nPK\x03\x04cut short"),
    ("multipart/mixed; boundary=b", _envelope(b"!!not base64!!", "Content-Transfer-Encoding: base64")),
    ("multipart/mixed; boundary=b", _envelope(b"QUJD=", "Content-Transfer-Encoding: base64")),  # bad padding
    ("multipart/mixed; boundary=b", b"--b\r\nno blank line after the headers\r\n--b--\r\n"),
    ("multipart/mixed; boundary=b", _envelope(b"")),  # an empty file
    ("multipart/mixed; boundary=b\r\nX-Injected: 1", _envelope(b"PK\x03\x04data")),
    ("multipart/mixed; boundary=\u00e9\u20ac", _envelope(b"PK\x03\x04data", boundary="\u00e9")),
]


@pytest.mark.parametrize(("content_type", "body"), MALFORMED_ENVELOPES)
def test_malformed_envelopes_are_the_clients_own_error(content_type, body):
    with pytest.raises(ProofingMalformedResponse):
        extract_proof(content_type, body)


@settings(max_examples=300, deadline=None)
@given(content_type=st.one_of(st.text(max_size=60), st.sampled_from(
           ["multipart/mixed; boundary=b", 'multipart/related; boundary="b"', "multipart/mixed",
            "application/zip"])),
       body=st.one_of(st.binary(max_size=200), st.lists(st.sampled_from(
           [b"--b", b"--b--", b"\r\n", b"\n", b"Content-Type: application/zip",
            b"Content-Type: multipart/mixed; boundary=c", b"--c", b"Content-Transfer-Encoding: base64",
            b"Content-Transfer-Encoding: quoted-printable", b"PK\x03\x04", b"QUJD", b"=", b"=0", b":", b" "]),
           max_size=30).map(b"".join)))
def test_extract_proof_never_fails_any_other_way(content_type, body):
    try:
        content, kind = extract_proof(content_type, body)
    except ProofingMalformedResponse:
        return
    assert isinstance(content, bytes) and isinstance(kind, str)


def test_extract_proof_variants():
    assert extract_proof("application/zip", b"PK\x03\x04zip") == (b"PK\x03\x04zip", "application/zip")
    envelope = b'--b\r\nContent-Type: application/zip\r\n\r\n\r\nPK\x03\x04data\r\n--b--\r\n'
    assert extract_proof('multipart/mixed; boundary="b"', envelope) == (b"PK\x03\x04data", "application/zip")
    with pytest.raises(ProofingMalformedResponse):
        extract_proof("multipart/mixed", envelope)
    with pytest.raises(ProofingMalformedResponse):
        extract_proof("multipart/mixed; boundary=b", b"--b--\r\n")
