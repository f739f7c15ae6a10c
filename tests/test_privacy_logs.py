"""Privacy: no secret, key, token, code or personal value in any log record or error message.

One run drives every flow, successes and failures, with every logger at DEBUG (urllib3's request lines
included) and collects all that could end up in a log or in front of a user:

- each log record's formatted message, its exception text and stack, and, for records carrying a request
  (Django's ``django.request`` lines of 4xx/5xx answers), the error report ``AdminEmailHandler`` would mail;
- every error response body (the API's JSON errors, the error pages);
- every error left on the request by a backend (``str`` and ``repr``), and every exception a helper raised.

Then none of that may contain the SIP app secret, a private key (hex, or any line of its PEM), the OIDC
client secret, IDEMIA's client secret and API key, the encryption and digest keys, any auth code, OIDC
code, state or nonce, ID/access/refresh token (nor its payload or signature part), IDEMIA's access token
or callback secret, or any personal attribute value stored (names, emails, phones, document numbers and
images, dates of birth). Category values (document type, country, level of assurance) are not secrets.

Django's SQL debug logging (``settings.DEBUG = True`` only) prints query parameters: attribute values
reach the database encrypted, so only the user model's own email shows there; see docs/privacy.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.core.cache import caches
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views.debug import ExceptionReporter

from django_civic.civic_auth.client import civic_access_token_for, session_access_token
from django_civic.idemia.client import get_proofing_client
from django_civic.models import VerifiedAttribute
from django_civic.protocols.civic_auth.session import SESSION_KEY as TOKENS_KEY
from django_civic.protocols.sip.crypto import load_private_key
from django_civic.sandbox import defaults

from .test_proofing_flow import finish, post_callback, start

pytestmark = pytest.mark.django_db

SIP = "/civic/sip/exchange/"
ENCRYPTION_KEY = "log-test-encryption-key-5f1c0a"
DIGEST_KEY = "log-test-digest-key-93b7e2"
# A nonce is spent before authenticate() runs (the API's when it is taken, the redirect flow's with its
# state), so Django's user_login_failed, which masks only credentials named like secrets, may carry it.
SPENT_NONCES = ("OIDC nonce", "API nonce")
CATEGORY_ENDINGS = (".type", "Type", "country", "Country", "levelOfAssurance", "image_md5", "updated_at")


class Evidence:
    """Everything that could be shown or logged, and every secret that must not be in it."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []  # (where, text)
        self.secrets: dict[str, str] = {}  # text -> what it is

    def secret(self, what: str, value: Any) -> None:
        if isinstance(value, str) and len(value) >= 6:
            self.secrets.setdefault(value, what)
            parts = value.split(".")
            if len(parts) == 3:  # a JWT: its payload and signature must not appear on their own either
                for name, part in (("payload", parts[1]), ("signature", parts[2])):
                    if len(part) >= 16:
                        self.secrets.setdefault(part, f"{what} ({name})")

    def response(self, where: str, response: Any) -> Any:
        if response.status_code >= 400:
            self.texts.append((f"{where}: {response.status_code} body", response.content.decode("utf-8")))
        return response

    def error(self, where: str, exc: BaseException) -> None:
        self.texts.append((f"{where}: exception", f"{exc}\n{exc!r}"))


@pytest.fixture
def evidence() -> Evidence:
    return Evidence()


@pytest.fixture
def every_logger_at_debug(caplog) -> Iterator[None]:
    """Root and every existing logger at DEBUG (Django's own are INFO by default), urllib3 included."""
    caplog.set_level(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    loggers.append(logging.getLogger("urllib3"))
    saved = [(logger, logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.propagate = True
    try:
        yield
    finally:
        for logger, level, propagate in saved:
            logger.setLevel(level)
            logger.propagate = propagate


@pytest.fixture
def backend_errors(evidence) -> Iterator[None]:
    """The error each refused ``authenticate()`` left on the request, and the (cleansed) credentials."""
    def collect(sender: Any, credentials: Any, request: Any = None, **kwargs: Any) -> None:
        error = getattr(request, "civic_auth_error", None)
        text = f"credentials {credentials!r}"
        if error is not None:
            text += f"\n{error}\n{error!r}"
        evidence.texts.append(("user_login_failed", text))

    user_login_failed.connect(collect, dispatch_uid="test-privacy-logs")
    yield
    user_login_failed.disconnect(dispatch_uid="test-privacy-logs")


@pytest.fixture
def site(civic_sandbox, settings, tmp_path):
    caches["default"].clear()
    settings.STORAGES = {**settings.STORAGES, "proofs": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    settings.CIVIC = civic_sandbox.civic_settings(
        SANDBOX_ALLOW_WITHOUT_DEBUG=True, API={"THROTTLE_RATE": None},
        ENCRYPTION_KEYS=[ENCRYPTION_KEY], DIGEST_KEY=DIGEST_KEY,
        AUTH={"STORE_TOKENS": True},
        IDEMIA={"STORE_PROOF": True, "PROOF_STORAGE": "proofs"})
    return civic_sandbox


def expect_error(evidence: Evidence, where: str, call: Callable[[], Any]) -> None:
    try:
        call()
    except Exception as exc:  # the failure is the point; its text is evidence
        evidence.error(where, exc)
    else:
        raise AssertionError(f"{where}: expected a failure")


# -- the flows -------------------------------------------------------------------------------------------


def sip_flows(sandbox, ev: Evidence) -> None:
    def exchange(where: str, token: str):
        body = {"token": token, "scope": "PROOF_OF_IDENTITY"}
        return ev.response(where, Client().post(SIP, body, content_type="application/json"))

    code = sandbox.mint_code("carol", "PROOF_OF_IDENTITY")["authToken"]
    ev.secret("SIP auth code", code)
    assert exchange("sip login", code).status_code == 200
    assert exchange("sip replay", code).status_code == 400
    header = sandbox.mint_code("alice", "BASIC_SIGNUP")["authToken"]
    ev.secret("SIP auth code", header)
    response = ev.response("sip header", Client().post(SIP, {}, content_type="application/json",
                                                       HTTP_AUTHORIZATION=f"Bearer {header}"))
    assert response.status_code == 200
    forged = sandbox.mint_code("carol", "PROOF_OF_IDENTITY")["authToken"]
    ev.secret("SIP auth code", forged)
    assert exchange("sip forged", forged[:-6] + "AAAAAA").status_code == 400
    for kind, options in (("status", {"status": 500}), ("bad_signature", {}), ("malformed", {}),
                          ("wrong_key", {})):
        sandbox.inject_fault("sip.exchange", kind, **options)
        code = sandbox.mint_code("carol", "PROOF_OF_IDENTITY")["authToken"]
        ev.secret("SIP auth code", code)
        assert exchange(f"sip fault {kind}", code).status_code >= 500
    sandbox.inject_fault("sip.exchange", "processed")
    sandbox.inject_fault("sip.payload", "status", status=500)
    code = sandbox.mint_code("carol", "PROOF_OF_IDENTITY")["authToken"]
    ev.secret("SIP auth code", code)
    assert exchange("sip payload fault", code).status_code == 502


def redirect_login(sandbox, ev: Evidence, where: str, *, persona: str = "alice", deny: bool = False):
    web = Client(SERVER_NAME="localhost")
    started = web.post("/civic/auth/login/", {"next": "/profile/"})
    assert started.status_code == 302
    query = parse_qs(urlsplit(started["Location"]).query)
    ev.secret("OIDC state", query["state"][0])
    ev.secret("OIDC nonce", query["nonce"][0])
    params = sandbox.oidc_approve(started["Location"], persona, deny=deny)
    ev.secret("OIDC code", params.get("code"))
    back = urlsplit(params["redirect"])
    response = ev.response(where, web.get(f"{back.path}?{back.query}"))
    return web, response, back


def civic_auth_redirect_flows(sandbox, ev: Evidence) -> Client:
    web, response, _back = redirect_login(sandbox, ev, "oidc login")
    assert response.status_code == 302
    stored = web.session[TOKENS_KEY]
    for name in ("id_token", "access_token", "refresh_token"):
        ev.secret(f"OIDC {name}", stored[name])

    # The browser's back button: the same callback again (state used, code used).
    _web, again, back = redirect_login(sandbox, ev, "oidc login again")
    assert again.status_code == 302
    assert ev.response("oidc callback replay", _web.get(f"{back.path}?{back.query}")).status_code == 200
    faults = (("oidc.token", "wrong_audience", {}), ("oidc.token", "status", {"status": 500}),
              ("oidc.userinfo", "status", {"status": 500}), ("oidc.userinfo", "identity_change", {}),
              ("oidc.token", "malformed", {}))
    for channel, kind, options in faults:
        sandbox.inject_fault(channel, kind, **options)
        _web, failed, _back = redirect_login(sandbox, ev, f"oidc fault {channel} {kind}")
        assert failed.status_code >= 400
    _web, denied, _back = redirect_login(sandbox, ev, "oidc cancelled", deny=True)
    assert denied.status_code == 200
    return web


def civic_auth_api_flows(sandbox, ev: Evidence) -> None:
    def login(where: str, *, persona: str = "carol", fault: str | None = None, nonce: str | None = None,
              access: bool = True, id_token: str | None = None):
        client = Client()
        issued = client.post("/civic/auth/nonce/").json()
        ev.secret("API nonce", issued["nonce"])
        ev.secret("API nonce id", issued["nonce_id"])
        access_token = sandbox.mint_oidc_token(type="access", persona=persona) if access else None
        ev.secret("OIDC access token", access_token)
        token = id_token or sandbox.mint_oidc_token(persona=persona, nonce=nonce or issued["nonce"],
                                                    access_token=access_token, fault=fault)
        ev.secret("OIDC id_token", token)
        body = {"id_token": token, "nonce_id": issued["nonce_id"]}
        if access_token:
            body["access_token"] = access_token
        response = client.post("/civic/auth/token/", body, content_type="application/json")
        return token, ev.response(where, response)

    token, ok = login("api login")
    assert ok.status_code == 200
    assert login("api replay", id_token=token)[1].status_code == 400
    assert login("api wrong nonce", nonce="n-" + "x" * 30)[1].status_code == 400
    assert login("api bad signature", fault="bad_signature")[1].status_code == 400
    assert login("api expired", fault="expired")[1].status_code == 400
    sandbox.inject_fault("oidc.userinfo", "status", status=503)
    assert login("api userinfo down")[1].status_code == 503


def bearer_and_exchange_flows(sandbox, ev: Evidence, web: Client) -> None:
    for persona, fault in (("alice", None), ("alice", "bad_signature"), ("alice", "expired"), ("bob", None)):
        token = sandbox.mint_oidc_token(type="access", persona=persona, fault=fault)
        ev.secret("OIDC access token", token)
        response = ev.response(f"bearer {persona} {fault}", Client().get(
            "/api/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}"))
        assert response.status_code == (200 if persona == "alice" and fault is None else 401)

    user = get_user_model().objects.get(pk=web.session["_auth_user_id"])
    subject = web.session[TOKENS_KEY]["access_token"]
    exchanged = civic_access_token_for(user, subject)
    ev.secret("exchanged access token", exchanged.access_token)
    sandbox.inject_fault("oidc.token", "status", status=400, body='{"error": "invalid_grant"}')
    other = sandbox.mint_oidc_token(type="access", persona="alice")
    ev.secret("OIDC access token", other)
    expect_error(ev, "token exchange refused", lambda: civic_access_token_for(user, other))

    # The stored access token is about to expire: the refresh token is used, and rotated.
    session = web.session
    session[TOKENS_KEY] = {**session[TOKENS_KEY], "expires_at": 0}
    request = RequestFactory().get("/")
    request.session = session
    refreshed = session_access_token(request)
    assert refreshed and refreshed != subject
    for name in ("id_token", "access_token", "refresh_token"):
        ev.secret(f"refreshed {name}", session[TOKENS_KEY][name])
    session[TOKENS_KEY] = {**session[TOKENS_KEY], "expires_at": 0}
    sandbox.inject_fault("oidc.token", "status", status=400, body='{"error": "invalid_grant"}')
    assert session_access_token(request) is None  # a failed refresh drops the tokens, quietly


def idemia_flows(sandbox, ev: Evidence, web: Client) -> None:
    session = start(web)
    path, body = finish(sandbox, session, persona="bob")
    ev.secret("IDEMIA callback secret", path.rstrip("/").rsplit("/", 1)[-1])
    sandbox.inject_fault("idemia.gips", "status", status=500)
    ev.response("idemia callback (GIPS down)", post_callback(path, body))
    ev.response("idemia forged callback", post_callback(path.replace(path.rstrip("/").rsplit("/", 1)[-1],
                                                                     "x" * 43), body))
    assert post_callback(path, body).status_code == 204  # IDEMIA's retry: fetched, recorded, proof stored
    ev.response("idemia status", web.get(reverse("django_civic:proofing-status", args=[session.public_id])))
    ev.secret("IDEMIA access token", get_proofing_client()._tokens._token)  # the one the process holds
    sandbox.reset()  # IDEMIA forgets its tokens: the next start asks for one, and fails
    sandbox.inject_fault("idemia.token", "status", status=500)
    assert ev.response("idemia start (token down)", web.post(reverse("django_civic:proofing-start"))
                       ).status_code == 502


# -- the check -------------------------------------------------------------------------------------------


def log_texts(caplog) -> list[tuple[str, str]]:
    formatter = logging.Formatter()
    texts = []
    for record in list(caplog.records):  # a copy: rendering the error reports below logs too
        where = f"log {record.name} {record.levelname}"
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + formatter.formatException(record.exc_info)
        if record.exc_text:
            text += "\n" + record.exc_text
        if record.stack_info:
            text += "\n" + record.stack_info
        texts.append((where, text))
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "META"):
            # What Django's AdminEmailHandler would mail for this record (error reports of 5xx answers).
            report = ExceptionReporter(request, *(record.exc_info or (None, None, None)), is_email=True)
            texts.append((f"{where} (error report)", report.get_traceback_text()))
    return texts


def static_secrets(ev: Evidence) -> None:
    for what, value in (("SIP app secret", defaults.SIP_APP_SECRET),
                        ("SIP app private key", defaults.SIP_APP_PRIVATE_KEY),
                        ("sandbox Civic private key", defaults.SIP_CIVIC_PRIVATE_KEY),
                        ("OIDC client secret", defaults.OIDC_CLIENT_SECRET),
                        ("IDEMIA client secret", defaults.IDEMIA_CLIENT_SECRET),
                        ("IDEMIA API key", defaults.IDEMIA_API_KEY),
                        ("encryption key", ENCRYPTION_KEY), ("digest key", DIGEST_KEY)):
        ev.secret(what, value)
    for what, hex_key in (("SIP app private key PEM", defaults.SIP_APP_PRIVATE_KEY),
                          ("sandbox Civic private key PEM", defaults.SIP_CIVIC_PRIVATE_KEY)):
        for encoding in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
            pem = load_private_key(hex_key).private_bytes(serialization.Encoding.PEM, encoding,
                                                          serialization.NoEncryption()).decode()
            for line in pem.splitlines():
                if not line.startswith("-----"):
                    ev.secret(what, line)


def personal_values(ev: Evidence) -> int:
    count = 0
    for attribute in VerifiedAttribute.objects.all():
        label, value = attribute.label, attribute.value
        if label.endswith(CATEGORY_ENDINGS) or label.startswith("verifications.") or len(value) < 6:
            continue
        count += 1
        ev.secret(f"attribute {label}", value)
        if len(value) > 200:  # an image: a slice of it is a leak as much as the whole
            ev.secret(f"attribute {label} (slice)", value[100:164])
    return count


def test_no_secret_or_personal_value_in_any_log_or_error(site, evidence, every_logger_at_debug,
                                                         backend_errors, caplog, record_figure):
    ev = evidence
    sip_flows(site, ev)
    web = civic_auth_redirect_flows(site, ev)
    civic_auth_api_flows(site, ev)
    bearer_and_exchange_flows(site, ev, web)
    proofing = Client()
    proofing.force_login(get_user_model().objects.get(pk=web.session["_auth_user_id"]))
    idemia_flows(site, ev, proofing)

    static_secrets(ev)
    values = personal_values(ev)
    texts = log_texts(caplog) + ev.texts
    # The run did what it claims: logs at DEBUG from our code, urllib3 and Django, error bodies, reports.
    loggers = {where.split()[1] for where, _text in texts if where.startswith("log ")}
    assert {"urllib3.connectionpool", "django.request", "django_civic.sip.backend",
            "django_civic.civic_auth.backend", "django_civic.protocols.idemia.client"} <= loggers, loggers
    assert any("(error report)" in where for where, _text in texts)
    assert values >= 15 and len(ev.secrets) >= 100

    leaks = sorted({(what, where) for where, text in texts for secret, what in ev.secrets.items()
                    if secret in text and not (where == "user_login_failed" and what in SPENT_NONCES)})
    assert not leaks, "\n".join(map(str, leaks))
    record_figure("privacy.logs", texts=len(texts), log_records=len(caplog.records), secrets=len(ev.secrets),
                  attribute_values=values, leaks=len(leaks))
