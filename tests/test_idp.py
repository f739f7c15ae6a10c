"""The site as an identity provider (django_civic.civic_auth.idp): its discovery document and JWKS, checked
with independent libraries (joserfc for the keys and tokens, Authlib for the OpenID metadata); its keys
(``civic_idp_keys``), kept out of the database's clear text; the identity tokens' claims; the checks."""

from __future__ import annotations

import io

import pytest
from authlib.oidc.discovery import OpenIDProviderMetadata
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from django_civic.civic_auth import idp
from django_civic.civic_auth.checks import check_site_identity_provider
from django_civic.models import SiteSigningKey
from django_civic.protocols.civic_auth import idp as protocol

pytestmark = pytest.mark.django_db
User = get_user_model()
ISSUER = "https://site.example/civic/"
DISCOVERY = "/civic/.well-known/openid-configuration"
JWKS = "/civic/.well-known/jwks.json"


def keys(*args: str) -> str:
    out = io.StringIO()
    call_command("civic_idp_keys", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def site(settings):
    settings.CIVIC = {"AUTH": {"CLIENT_ID": "civic-app"}, "IDP": {"ISSUER": ISSUER},
                      "DIGEST_KEY": "digest-key-of-the-tests"}
    keys("create")
    return Client()


def ids(messages) -> set[str]:
    return {message.id for message in messages}


# -- discovery and JWKS, checked by independent libraries -------------------------------------------------

def test_discovery_and_jwks_validate_with_authlib_and_joserfc(site):
    document = site.get(DISCOVERY).json()
    metadata = OpenIDProviderMetadata(document)
    # OpenID Discovery also requires an authorization endpoint; the site has none (nobody logs in at it: it
    # hands its tokens to Civic itself), so every other rule is checked.
    for name in ("issuer", "jwks_uri", "response_types_supported", "subject_types_supported",
                 "id_token_signing_alg_values_supported", "claims_supported"):
        getattr(metadata, f"validate_{name}")()
    assert document["issuer"] == ISSUER and document["jwks_uri"] == ISSUER + ".well-known/jwks.json"
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]

    key_set = KeySet.import_key_set(site.get(JWKS).json())
    user = User.objects.create_user("pat")
    token = jose_jwt.decode(idp.identity_token(user), key_set, algorithms=["RS256"])
    assert token.header["alg"] == "RS256" and token.header["kid"] == key_set.keys[0].kid
    jose_jwt.JWTClaimsRegistry(iss={"essential": True, "value": ISSUER},
                               aud={"essential": True, "value": "civic-app"},
                               sub={"essential": True, "value": idp.subject_for(user)}).validate(token.claims)
    assert token.claims["exp"] - token.claims["iat"] == 300


def test_the_jwks_publishes_public_keys_only(site):
    keys("rotate")
    published = site.get(JWKS).json()["keys"]
    assert len(published) == 2
    for jwk in published:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)  # no private member (RFC 7518 6.3.2)
        assert jwk["use"] == "sig" and jwk["alg"] == "RS256" and jwk["kty"] == "RSA"


def test_the_issuer_comes_from_settings_never_from_the_host_header(site):
    document = site.get(DISCOVERY, HTTP_HOST="evil.example").json()
    assert document["issuer"] == ISSUER and document["jwks_uri"].startswith(ISSUER)


def test_nothing_is_published_without_an_issuer(settings, site):
    settings.CIVIC = {}
    assert site.get(DISCOVERY).status_code == 404 and site.get(JWKS).status_code == 404


def test_the_documents_are_get_only(site):
    assert site.post(DISCOVERY).status_code == 405 and site.post(JWKS).status_code == 405


# -- the keys ---------------------------------------------------------------------------------------------

def test_the_private_key_is_encrypted_at_rest(site):
    with connection.cursor() as cursor:
        cursor.execute("SELECT private_key FROM django_civic_sitesigningkey")
        (stored,) = cursor.fetchone()
    assert "PRIVATE KEY" not in stored and stored.startswith("gAAAA")  # a Fernet token
    assert "PRIVATE KEY" in SiteSigningKey.objects.get().private_key


def test_rotation_keeps_the_old_key_published_until_it_is_retired(site, settings):
    old = SiteSigningKey.objects.get()
    keys("rotate")
    new = SiteSigningKey.objects.get(status="active")
    assert [jwk["kid"] for jwk in site.get(JWKS).json()["keys"]] == [new.kid, old.kid]
    with pytest.raises(CommandError, match="less than the token lifetime"):
        keys("retire")  # tokens the old key signed may still be on their way to Civic
    SiteSigningKey.objects.filter(pk=old.pk).update(replaced_at=old.created_at.replace(year=2000))
    assert "1 key(s) retired" in keys("retire")
    assert [jwk["kid"] for jwk in site.get(JWKS).json()["keys"]] == [new.kid]
    old.refresh_from_db()
    assert old.status == "retired" and old.private_key == ""  # the private half is gone


def test_the_commands_refuse_what_would_break_the_site(site):
    with pytest.raises(CommandError, match="already has an active key"):
        keys("create")
    with pytest.raises(CommandError, match="at least 2048"):
        keys("rotate", "--bits", "1024")
    with pytest.raises(CommandError, match="No replaced key"):
        keys("retire", "--kid", SiteSigningKey.objects.get().kid)  # the active key: rotate first
    assert SiteSigningKey.objects.filter(status="active").count() == 1


def test_es256_keys_work_too(site):
    keys("rotate", "--algorithm", "ES256")
    key_set = KeySet.import_key_set(site.get(JWKS).json())
    issued = idp.identity_token(User.objects.create_user("pat"))
    token = jose_jwt.decode(issued, key_set, algorithms=["ES256"])
    assert token.header["alg"] == "ES256"


def test_reencrypt_moves_the_site_keys_to_the_new_encryption_key(site, settings):
    pem = SiteSigningKey.objects.get().private_key
    settings.CIVIC = {**settings.CIVIC, "ENCRYPTION_KEYS": ["new-key", settings.SECRET_KEY]}
    call_command("civic_reencrypt", stdout=io.StringIO())
    settings.CIVIC = {**settings.CIVIC, "ENCRYPTION_KEYS": ["new-key"]}  # the old key is gone
    assert SiteSigningKey.objects.get().private_key == pem


# -- the identity token -----------------------------------------------------------------------------------

def claims(user) -> dict:
    return jose_jwt.decode(idp.identity_token(user), KeySet.import_key_set(idp.jwks())).claims


def test_email_is_claimed_only_when_verified(site):
    from django_civic.core.identities import record_identity
    from django_civic.protocols.sip.types import Attribute

    pat = User.objects.create_user("pat", "pat@example.com")
    assert "email" not in claims(pat) and "email_verified" not in claims(pat)
    record_identity(provider="civic_sip", subject="s-1", user=pat,
                    attributes=[Attribute("contact.personal.email", "pat@example.com", True, False)])
    assert "email" not in claims(pat)  # valid but not shown to be pat's own
    record_identity(provider="civic_sip", subject="s-1", user=pat,
                    attributes=[Attribute("contact.personal.email", "pat@example.com", True, True)])
    assert claims(pat)["email"] == "pat@example.com" and claims(pat)["email_verified"] is True


def test_the_subject_is_stable_and_not_guessable(site, settings):
    pat = User.objects.create_user("pat")
    sub = idp.subject_for(pat)
    assert claims(pat)["sub"] == sub and sub != str(pat.pk) and len(sub) == 43  # 256 bits, base64url
    settings.CIVIC = {**settings.CIVIC, "DIGEST_KEY": "another-site"}
    assert idp.subject_for(pat) != sub  # a key of the site's: nobody else can compute it


# -- system checks ----------------------------------------------------------------------------------------

def test_e111_no_key_in_production(settings):
    settings.CIVIC = {"IDP": {"ISSUER": ISSUER}, "DIGEST_KEY": "k"}
    assert "django_civic.E111" in ids(check_site_identity_provider())
    keys("create")
    assert ids(check_site_identity_provider()) == set()


def test_e112_a_weak_key(site):
    weak = protocol.generate_key(rsa_bits=1024)
    SiteSigningKey.objects.create(kid="weak", algorithm="RS256", private_key=idp.private_key_pem(weak),
                                  status="published")
    assert "django_civic.E112" in ids(check_site_identity_provider())


def test_e112_a_key_that_no_longer_decrypts(site, settings):
    settings.CIVIC = {**settings.CIVIC, "ENCRYPTION_KEYS": ["not-the-key-it-was-encrypted-with"]}
    assert "django_civic.E112" in ids(check_site_identity_provider())


def test_e110_and_w110_w111_the_issuer_and_digest_key(settings, site):
    settings.CIVIC = {**settings.CIVIC, "IDP": {"ISSUER": "http://site.example/civic/"}}
    assert "django_civic.E110" in ids(check_site_identity_provider())
    settings.CIVIC = {**settings.CIVIC, "IDP": {"ISSUER": "https://site.example/elsewhere/"}}
    assert "django_civic.W110" in ids(check_site_identity_provider())
    settings.CIVIC = {"IDP": {"ISSUER": ISSUER}}
    assert "django_civic.W111" in ids(check_site_identity_provider())
