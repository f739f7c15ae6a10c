"""OpenID Provider metadata (OIDC Discovery 1.0), fetched once and shared through the cache."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django_civic.protocols.civic_auth.documents import DocumentCache
from django_civic.protocols.civic_auth.errors import DiscoveryError, OIDCError
from django_civic.protocols.civic_auth.http import max_age, raise_for_status, read_json, send
from django_civic.protocols.http import ProcessSession

logger = logging.getLogger(__name__)

WELL_KNOWN = ".well-known/openid-configuration"


def discovery_url(issuer: str) -> str:
    """``{issuer}/.well-known/openid-configuration`` with exactly one slash between (Discovery 4)."""
    return issuer.rstrip("/") + "/" + WELL_KNOWN


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None = None
    end_session_endpoint: str | None = None
    id_token_signing_alg_values_supported: tuple[str, ...] = ()
    code_challenge_methods_supported: tuple[str, ...] = ()
    grant_types_supported: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_document(cls, doc: dict[str, Any], expected_issuer: str) -> ProviderMetadata:
        # Discovery 4.3: the document's issuer must be the one we asked, exactly; otherwise a
        # compromised or confused document could make us trust another provider's tokens.
        if doc.get("issuer") != expected_issuer:
            raise DiscoveryError("the discovery document names a different issuer")
        secure = urlsplit(expected_issuer).scheme == "https"

        def endpoint(name: str, required: bool = True) -> str | None:
            value = doc.get(name)
            if value is None and not required:
                return None
            if not isinstance(value, str) or urlsplit(value).scheme not in ("https", "http"):
                raise DiscoveryError(f"the discovery document has no valid {name}")
            if secure and not value.startswith("https://"):
                raise DiscoveryError(f"the discovery document's {name} is not https")
            return value

        def strings(name: str) -> tuple[str, ...]:
            value = doc.get(name)
            return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()

        return cls(
            issuer=expected_issuer,
            authorization_endpoint=endpoint("authorization_endpoint"),  # type: ignore[arg-type]
            token_endpoint=endpoint("token_endpoint"),  # type: ignore[arg-type]
            jwks_uri=endpoint("jwks_uri"),  # type: ignore[arg-type]
            userinfo_endpoint=endpoint("userinfo_endpoint", required=False),
            end_session_endpoint=endpoint("end_session_endpoint", required=False),
            id_token_signing_alg_values_supported=strings("id_token_signing_alg_values_supported"),
            code_challenge_methods_supported=strings("code_challenge_methods_supported"),
            grant_types_supported=strings("grant_types_supported"),
            raw=doc,
        )


class Discovery:
    """Fetch and cache one issuer's metadata; serve a stale copy only while the provider fails."""

    def __init__(self, issuer: str, session: ProcessSession, documents: DocumentCache, *,
                 timeout: Any, cooldown: float = 30) -> None:
        self.issuer = issuer
        self.url = discovery_url(issuer)
        self.session = session
        self.documents = documents
        self.timeout = timeout
        self.cooldown = cooldown
        self._parsed: tuple[dict[str, Any] | None, ProviderMetadata | None] = (None, None)

    def _metadata(self, document: dict[str, Any]) -> ProviderMetadata:
        source, parsed = self._parsed
        if source is not document or parsed is None:
            parsed = ProviderMetadata.from_document(document, self.issuer)
            self._parsed = (document, parsed)
        return parsed

    def metadata(self) -> ProviderMetadata:
        cached = self.documents.get(self.url)
        if cached and (cached.fresh or not self.documents.claim_fetch(self.url, self.cooldown)):
            # Fresh, or stale while another worker (or a recent failed attempt) already refreshes it.
            return self._metadata(cached.document)
        try:
            return self._fetch()
        except OIDCError as exc:
            if cached is None:
                raise
            logger.warning("Civic Auth discovery failed (%s); using the cached copy", exc.code)
            return self._metadata(cached.document)

    def _fetch(self) -> ProviderMetadata:
        response = send(self.session.get(), "GET", self.url, timeout=self.timeout, what="discovery",
                        headers={"Accept": "application/json"})
        try:
            raise_for_status(response, "discovery")
        except OIDCError as exc:
            if exc.retryable:
                raise
            raise DiscoveryError(str(exc), status=exc.status) from None
        age = max_age(response)
        try:
            doc = read_json(response, "discovery")
        except OIDCError as exc:
            if exc.retryable:
                raise
            raise DiscoveryError(str(exc)) from None
        metadata = ProviderMetadata.from_document(doc, self.issuer)
        self.documents.put(self.url, doc, age)
        self._parsed = (doc, metadata)
        return metadata
