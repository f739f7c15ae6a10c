"""The provider's signing keys (JWKS), shared through the cache, with a cooldown on refetches.

Tokens name their key by ``kid``. A ``kid`` we have not seen usually means the provider rotated its
keys, so the set is fetched again, but at most once per ``cooldown`` seconds across all processes
(claimed with ``cache.add``): a stream of tokens with random ``kid`` values costs the provider one
request per cooldown, not one per token. A key is only used for an algorithm it can serve (an RSA key
for RS*/PS*, an EC key on the matching curve for ES*, an OKP key for EdDSA), and never when it says
it is for encryption.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any

import jwt

from django_civic.protocols import jose as jws
from django_civic.protocols.civic_auth.documents import DocumentCache
from django_civic.protocols.civic_auth.errors import OIDCError, ProviderResponseError, UnknownSigningKey
from django_civic.protocols.civic_auth.http import max_age, raise_for_status, read_json, send
from django_civic.protocols.http import ProcessSession

logger = logging.getLogger(__name__)

#: Asymmetric JWS algorithms: the only ones a token from a provider may use, and exactly the ones
#: :mod:`django_civic.protocols.jose` verifies. ``none`` and HS* (a shared secret, or worse our own copy of
#: the provider's *public* key) are never acceptable.
ASYMMETRIC_ALGORITHMS = jws.ALGORITHMS
_KTY = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
_CURVE = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}


def key_type(alg: str) -> str | None:
    return _KTY.get(alg[:2])


def _usable(jwk: Any, kid: str | None, alg: str) -> bool:
    if not isinstance(jwk, dict) or jwk.get("kty") != key_type(alg):
        return False
    if jwk.get("use") not in (None, "sig"):
        return False
    ops = jwk.get("key_ops")
    if isinstance(ops, list) and "verify" not in ops:
        return False
    if "alg" in jwk and jwk["alg"] != alg:
        return False
    if alg in _CURVE and jwk.get("crv") != _CURVE[alg]:
        return False
    return kid is None or jwk.get("kid") == kid


@lru_cache(maxsize=64)
def _load_key(jwk_json: str, alg: str) -> Any:
    """Parse a JWK once per process (the hot path verifies with the same few keys over and over)."""
    return jwt.PyJWK(json.loads(jwk_json), algorithm=alg).key


def find_key(document: dict[str, Any], kid: str | None, alg: str) -> Any | None:
    """The verification key for ``kid``/``alg`` in a JWKS, or None.

    Without a ``kid`` a key is only chosen when exactly one key in the set fits the algorithm.
    """
    keys = document.get("keys")
    if not isinstance(keys, list):
        return None
    matches = [jwk for jwk in keys if _usable(jwk, kid, alg)]
    if len(matches) != 1:
        return None
    try:
        return _load_key(json.dumps(matches[0], sort_keys=True), alg)
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return None


class KeySet:
    def __init__(self, jwks_uri: str, session: ProcessSession, documents: DocumentCache, *,
                 timeout: Any, cooldown: float) -> None:
        self.jwks_uri = jwks_uri
        self.session = session
        self.documents = documents
        self.timeout = timeout
        self.cooldown = cooldown
        # Keys found in the current document object: (document, {(kid, alg): key}). Only hits are kept,
        # so tokens with random kids cannot grow it.
        self._found: tuple[dict[str, Any] | None, dict[tuple[str | None, str], Any]] = (None, {})

    def _find(self, document: dict[str, Any], kid: str | None, alg: str) -> Any | None:
        source, found = self._found
        if source is not document:
            found = {}
            self._found = (document, found)
        key = found.get((kid, alg))
        if key is None:
            key = find_key(document, kid, alg)
            if key is not None:
                found[(kid, alg)] = key
        return key

    def key_for(self, kid: str | None, alg: str) -> Any:
        """The key to verify a token signed with ``alg`` by ``kid``; :class:`UnknownSigningKey` if none."""
        cached = self.documents.get(self.jwks_uri)
        fetched = False
        if cached is None or (not cached.fresh and self.documents.claim_fetch(self.jwks_uri, self.cooldown)):
            document = self._fetch_or_stale(cached.document if cached else None)
            fetched = True
        else:
            document = cached.document
        key = self._find(document, kid, alg)
        if key is None and not fetched:
            # Maybe the provider rotated its keys. Another worker may have fetched them already...
            shared = self.documents.get(self.jwks_uri, shared=True)
            if shared is not None and shared.document is not document:
                document = shared.document
                key = self._find(document, kid, alg)
            # ... otherwise look once more, then give up until the cooldown ends.
            if key is None and self.documents.claim_fetch(self.jwks_uri, self.cooldown):
                document = self._fetch_or_stale(document)
                key = self._find(document, kid, alg)
        if key is None:
            raise UnknownSigningKey()
        return key

    def _fetch_or_stale(self, stale: dict[str, Any] | None) -> dict[str, Any]:
        try:
            return self.fetch()
        except OIDCError as exc:
            if stale is None:
                raise
            logger.warning("Civic Auth JWKS refresh failed (%s); using the cached keys", exc.code)
            return stale

    def fetch(self) -> dict[str, Any]:
        response = send(self.session.get(), "GET", self.jwks_uri, timeout=self.timeout, what="JWKS",
                        headers={"Accept": "application/json"})
        raise_for_status(response, "JWKS")
        age = max_age(response)
        document = read_json(response, "JWKS")
        keys = document.get("keys")
        if not isinstance(keys, list):
            raise ProviderResponseError("the JWKS has no keys list")
        # Keep only public parameters of the keys: a JWKS should never carry private ones, and
        # whatever it carries ends up in the shared cache.
        public = [_public_only(jwk) for jwk in keys if isinstance(jwk, dict)]
        document = {"keys": public}
        self.documents.put(self.jwks_uri, document, age)
        return document


_PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def _public_only(jwk: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in jwk.items() if name not in _PRIVATE_MEMBERS}
