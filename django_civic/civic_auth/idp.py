"""The site as the identity provider Civic trusts: identity tokens for any Django user.

``CIVIC["IDP"]["ISSUER"]`` names the site's issuer (where ``django_civic.urls`` is included); the keys are
``SiteSigningKey`` rows managed by ``manage.py civic_idp_keys``. :func:`identity_token` signs a short-lived
token for a user with the active key; :func:`jwks` publishes every key not retired (the replaced ones stay
for the overlap), :func:`discovery` the OpenID metadata. Civic is told the issuer and the JWKS URL on its
Integration page and then exchanges these tokens for Civic access tokens (``django_civic.civic_auth.hub``).

The token's ``sub`` is an HMAC of the user's primary key under a key derived from ``CIVIC["DIGEST_KEY"]``:
stable for as long as that key is (set it explicitly: ``django_civic.W111``), and not guessable from the
primary key, so the numbering of the site's users never leaks to Civic or to whoever holds a token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from django_civic.conf import civic_settings
from django_civic.core.adapter import get_adapter
from django_civic.core.encryption import digest_key, stretch
from django_civic.models import SiteSigningKey
from django_civic.protocols.civic_auth import idp as protocol

_SUBJECT_INFO = b"django_civic site identity subject v1"


class SiteKeyMissing(ImproperlyConfigured):
    """No active site signing key: run ``manage.py civic_idp_keys create``."""


def issuer() -> str | None:
    """``CIVIC["IDP"]["ISSUER"]`` with a trailing slash, or None when the site issues no tokens.

    From settings only, never from a request: it is the identity Civic trusts, and a ``Host`` header
    must not change what the discovery document or the tokens claim."""
    value = civic_settings.IDP["ISSUER"]
    if not value:
        return None
    return value if value.endswith("/") else value + "/"


def audience() -> str:
    from django_civic.civic_auth.client import oidc_config

    return civic_settings.IDP["AUDIENCE"] or oidc_config()["client_id"]


def jwks_uri(site_issuer: str) -> str:
    return site_issuer + ".well-known/jwks.json"


def subject_for(user: Any) -> str:
    """The user's stable, non-guessable ``sub`` in the site's tokens."""
    mac = hmac.new(_subject_key(digest_key()), str(user.pk).encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


@lru_cache(maxsize=4)
def _subject_key(digest: bytes) -> bytes:
    # Domain-separated from the attribute digests that use the same key.
    return stretch(digest, _SUBJECT_INFO)


@lru_cache(maxsize=16)
def load_private_key(pem: str) -> Any:
    return serialization.load_pem_private_key(pem.encode("ascii"), password=None)


def private_key_pem(private_key: Any) -> str:
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode("ascii")


def active_key() -> SiteSigningKey:
    key = SiteSigningKey.objects.filter(status=SiteSigningKey.Status.ACTIVE).first()
    if key is None:
        raise SiteKeyMissing("The site has no signing key: run `manage.py civic_idp_keys create`.")
    return key


@sensitive_variables("private_key", "token")
def identity_token(user: Any) -> str:
    """A signed identity token for ``user``, valid ``CIVIC["IDP"]["TOKEN_LIFETIME"]`` seconds.

    ``email`` and ``email_verified`` only when the adapter's ``verified_email`` vouches for the address.
    Raises :class:`SiteKeyMissing` or ``ImproperlyConfigured`` when the site cannot issue tokens."""
    site_issuer = issuer()
    if site_issuer is None:
        raise ImproperlyConfigured("CIVIC['IDP']['ISSUER'] is not set: the site issues no identity tokens.")
    key = active_key()
    private_key = load_private_key(key.private_key)
    email = get_adapter().verified_email(user)
    name = user.get_full_name() if hasattr(user, "get_full_name") else ""
    token = protocol.identity_token(
        private_key, key.kid, key.algorithm, issuer=site_issuer, audience=audience(),
        subject=subject_for(user), lifetime=int(civic_settings.IDP["TOKEN_LIFETIME"]),
        jti=secrets.token_urlsafe(16), email=email, email_verified=email is not None, name=name or None)
    return token


def jwks() -> dict[str, Any]:
    """The public keys of every key not retired, the active one first."""
    keys = (SiteSigningKey.objects.exclude(status=SiteSigningKey.Status.RETIRED)
            .order_by("status", "-created_at"))
    return {"keys": [protocol.public_jwk(load_private_key(key.private_key), key.kid, key.algorithm)
                     for key in keys]}


def discovery(site_issuer: str) -> dict[str, Any]:
    algorithms = sorted(set(SiteSigningKey.objects.exclude(status=SiteSigningKey.Status.RETIRED)
                            .values_list("algorithm", flat=True))) or [protocol.DEFAULT_ALGORITHM]
    return protocol.discovery_document(site_issuer, jwks_uri(site_issuer), algorithms)


def mounted_issuer_path() -> str:
    """The path where ``django_civic.urls`` is included (what the issuer's path must be)."""
    return reverse("django_civic:idp_discovery").removesuffix(".well-known/openid-configuration")
