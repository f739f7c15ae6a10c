"""The OpenAPI schema of the JSON API (drf-spectacular), and schemathesis against it on a live server.

The schema is generated from the views' annotations with no warning and validates as OpenAPI 3; then
schemathesis sends what the schema allows and what it does not (bodies, headers, path parameters) to every
operation of the live site, which talks to the sandbox over HTTP, and checks that nothing answers 5xx and that
every response has a documented status, content type and body. The successful answers (logins in every mode,
``me/``, an unlink) are checked against the schema too, since random inputs never produce a valid code.
"""

from __future__ import annotations

import base64

import hypothesis
import pytest
import requests
import schemathesis
from django.contrib.auth import get_user_model
from django.core.cache import caches
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.validation import validate_schema
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from django_civic.core.identities import record_identity
from django_civic.protocols.sip.types import Attribute

SCHEMA_URL = "/civic/api/schema/"
OPERATIONS = {
    "/civic/sip/exchange/": {"post"},
    "/civic/auth/nonce/": {"post"},
    "/civic/auth/token/": {"post"},
    "/civic/me/": {"get"},
    "/civic/me/identities/{id}/": {"get", "delete"},
}
OPERATION_LIST = [(path, method) for path, methods in OPERATIONS.items() for method in methods]
EXAMPLES = 50  # per operation and mode, at most
# A request that breaks the schema must be refused with one of our documented 4xx: 413 included (a body over
# the 64 KB cap), which schemathesis's default list leaves out; 5xx is never an acceptable refusal here.
CONFIG = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {
    "expected-statuses": ["400", "401", "403", "404", "405", "409", "413", "415", "429"]}}})
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection, ignored_auth]


def get_schema(client) -> dict:
    GENERATOR_STATS.reset()
    response = client.get(SCHEMA_URL)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/vnd.oai.openapi+json"
    return response.json()


def test_the_schema_is_generated_without_warnings_and_is_valid_openapi(client):
    schema = get_schema(client)
    assert (dict(GENERATOR_STATS._warn_cache), dict(GENERATOR_STATS._error_cache)) == ({}, {})
    validate_schema(schema)  # raises on anything OpenAPI 3 does not allow
    assert {path: set(methods) for path, methods in schema["paths"].items()} == OPERATIONS


def test_every_failure_is_documented_in_the_one_error_shape(client):
    schema = get_schema(client)
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"error", "detail"}
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            codes = {int(code) for code in operation["responses"]}
            assert 200 in codes and any(code >= 400 for code in codes), (path, method)
            for code in codes - {200}:
                body = operation["responses"][str(code)]["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/Error"}, (path, method, code)


def test_the_auth_schemes_are_named(client):
    schema = get_schema(client)
    schemes = ["tokenAuth", "civicAccessToken", "jwtAuth", "cookieAuth"]  # the order of MeView's classes
    assert set(schema["components"]["securitySchemes"]) == set(schemes)
    me = schema["paths"]["/civic/me/"]["get"]["security"]
    assert [name for entry in me for name in entry] == schemes
    # The logins are anonymous, or a signed-in session connecting another login to its account.
    assert schema["paths"]["/civic/sip/exchange/"]["post"]["security"] == [{"cookieAuth": []}, {}]


def test_the_schema_view_takes_no_credentials_so_the_sites_http_basic_is_no_oracle(client, settings):
    # DRF's default authentication classes include HTTP Basic: on the schema view they would check any
    # username and password sent to it, unthrottled (401 for a wrong one).
    settings.REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.BasicAuthentication"]}
    basic = "Basic " + base64.b64encode(b"admin:guess").decode()
    response = client.get(SCHEMA_URL, HTTP_AUTHORIZATION=basic)
    assert response.status_code == 200


# -- schemathesis against the live site --------------------------------------------------------------------


@pytest.fixture
def api_site(live_server, settings, civic_sandbox, transactional_db):
    """The live site in token mode (no CSRF, so the inputs reach the views' validation), throttling off, and
    a user with a Civic identity, a password and a DRF token for the authenticated operations."""
    caches["default"].clear()
    settings.CIVIC = civic_sandbox.civic_settings(SANDBOX_ALLOW_WITHOUT_DEBUG=True,
                                                  API={"LOGIN_MODE": "token", "THROTTLE_RATE": None})
    user = get_user_model().objects.create_user("api-user", "api@example.com", "a password")
    record_identity(provider="civic_sip", subject="api-user-1", user=user, scope="BASIC_SIGNUP",
                    attributes=[Attribute("contact.personal.email", "api@example.com", True, True)])
    token = Token.objects.create(user=user)
    return live_server.url, {"Authorization": f"Token {token.key}"}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schemathesis_finds_no_5xx_and_no_answer_outside_the_schema(api_site, mode, record_figure):
    url, headers = api_site
    schema = schemathesis.openapi.from_url(f"{url}{SCHEMA_URL}", headers={"Accept": "application/json"},
                                           config=CONFIG)
    calls: dict[int, int] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if mode is GenerationMode.NEGATIVE and not (operation.body or operation.path_parameters):
            continue  # nothing to send wrong (nonce/, me/): the positive run covers them
        operations += 1

        @hypothesis.settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                             suppress_health_check=list(hypothesis.HealthCheck))
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        def run(case):
            path = case.meta.components.get(ParameterLocation.PATH) if case.meta else None
            if path is not None and path.mode is GenerationMode.NEGATIVE:
                # /civic/me/identities/abc/ matches none of our URL patterns: the site's own 404 answers.
                response = case.call(headers=headers)
                assert response.status_code == 404
            else:
                response = case.call_and_validate(headers=headers, checks=CHECKS)
            calls[response.status_code] = calls.get(response.status_code, 0) + 1

        run()
    assert calls and not any(status >= 500 for status in calls)
    assert operations == (len(OPERATION_LIST) if mode is GenerationMode.POSITIVE else 4)
    record_figure(f"api.schemathesis.{mode.value}", operations=operations, requests=sum(calls.values()),
                  statuses={str(status): count for status, count in sorted(calls.items())}, server_errors=0)


@pytest.mark.parametrize("login_mode", ["session", "token", "jwt"])
def test_the_successful_answers_match_the_schema(api_site, civic_sandbox, settings, login_mode):
    """Random inputs never make a valid code: the 200s of every operation, in every login mode, are here."""
    url, headers = api_site
    settings.CIVIC = {**settings.CIVIC, "API": {**settings.CIVIC["API"], "LOGIN_MODE": login_mode}}
    schema = schemathesis.openapi.from_url(f"{url}{SCHEMA_URL}", headers={"Accept": "application/json"},
                                           config=CONFIG)
    http = requests.Session()
    if login_mode == "session":  # a page of the site sets the CSRF cookie; the logins send it back
        http.get(f"{url}/").raise_for_status()

    def call(path: str, method: str, **parts) -> dict:
        # A session login rotates the CSRF token: send the current one.
        csrf = {"X-CSRFToken": http.cookies["csrftoken"]} if login_mode == "session" else {}
        case = schema[path][method].Case(**parts)
        response = case.call_and_validate(session=http, headers={**csrf, **parts.pop("headers", {})},
                                          checks=CHECKS[:4])
        assert response.status_code == 200, response.text
        return response.json()

    code = civic_sandbox.mint_code("alice", "BASIC_SIGNUP")["authToken"]
    login = call("/civic/sip/exchange/", "POST", body={"token": code, "scope": "BASIC_SIGNUP", "next": "/"})
    assert login["login_mode"] == login_mode and login["user"]["email"] == "alice@example.com"
    nonce = call("/civic/auth/nonce/", "POST")
    id_token = civic_sandbox.mint_oidc_token(persona="carol", nonce=nonce["nonce"])
    second = call("/civic/auth/token/", "POST", body={"id_token": id_token, "nonce_id": nonce["nonce_id"]})
    assert second["user"]["email"] == "carol@example.net"

    me = call("/civic/me/", "GET", headers=headers)
    [identity] = me["identities"]
    assert call("/civic/me/identities/{id}/", "GET", path_parameters={"id": identity["id"]},
                headers=headers)["subject"] == "api-user-1"
    unlinked = call("/civic/me/identities/{id}/", "DELETE", path_parameters={"id": identity["id"]},
                    headers=headers)  # the user has a password: not their last way in
    assert unlinked == {"deleted": True, "id": identity["id"]}
