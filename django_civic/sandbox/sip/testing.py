"""Test helpers for the SIP sandbox, mixed into ``SandboxHandle`` (the ``civic_sandbox`` fixture).

    def test_login(civic_sandbox):
        client = civic_sandbox.sip_client()              # a SIPClient for the default app
        code = civic_sandbox.mint_code("carol", "PROOF_OF_IDENTITY")
        data = client.exchange_code(code["authToken"])
        assert data.user_id == code["userId"]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests

from django_civic.sandbox import defaults

if TYPE_CHECKING:
    from django_civic.protocols.sip import SIPClient



class SIPHelpers:
    url: str

    if TYPE_CHECKING:
        def control(self, method: str, path: str, json: Any = None,
                    expect: int | tuple[int, ...] = (200, 201)) -> Any: ...

    @property
    def sip_api_url(self) -> str:
        """What to give ``SIPClient(api_url=...)``: the sandbox's ``{url}sip/``."""
        return f"{self.url}sip/"

    def sip_exchange_url(self, env: str = "prod") -> str:
        return f"{self.sip_api_url}{env}/scopeRequest/authCode"

    def sip_client(self, **overrides: Any) -> SIPClient:
        """A ``SIPClient`` for the default sandbox app, pointed at this sandbox; keyword arguments override
        any constructor argument (``app_id``, ``app_secret``, ``private_key``, ``timeout``, ...)."""
        from django_civic.protocols.sip import SIPClient

        options: dict[str, Any] = {
            "app_id": defaults.SIP_APP_ID,
            "app_secret": defaults.SIP_APP_SECRET,
            "private_key": defaults.SIP_APP_PRIVATE_KEY,
            "api_url": self.sip_api_url,
            "civic_public_key": defaults.SIP_CIVIC_PUBLIC_KEY,
            "timeout": 5.0,
        }
        options.update(overrides)
        credentials = options.pop("app_id"), options.pop("app_secret"), options.pop("private_key")
        return SIPClient(*credentials, **options)

    def mint_code(self, persona: str | None = "alice", scope: str = "BASIC_SIGNUP", app_id: str | None = None,
                  data: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
        """An approved auth code, as if ``persona`` approved ``scope`` in the wallet: ``{authToken, userId}``.

        ``data`` replaces the released attributes (``[{label, value, isValid?, isOwner?}]``); the user id is
        still the persona's, or a new random one with ``persona=None``. ``extra`` passes ``userId`` or
        ``age`` (seconds since approval; over 1800 the code has expired).
        """
        body: dict[str, Any] = {"scope": scope, **extra}
        if persona is not None:
            body["persona"] = persona
        if app_id is not None:
            body["appId"] = app_id
        if data is not None:
            body["data"] = data
        return self.control("POST", "sip/codes", body, expect=201)

    def register_sip_app(self, app_id: str, app_secret: str | None = None, public_key: str | None = None,
                         *, private_key: str | None = None, name: str = "") -> dict[str, str]:
        """Register (or overwrite) a SIP app; missing credentials are generated.

        Returns ``{appId, appSecret, publicKey, privateKey}`` (``privateKey`` when it was generated or
        given), ready for ``sip_client(app_id=..., app_secret=..., private_key=...)``.
        """
        from django_civic.protocols.sip.crypto import (
            generate_app_secret,
            generate_key_pair,
            load_private_key,
            public_key_hex,
        )

        if public_key is None:
            if private_key is None:
                private_key, public_key = generate_key_pair()
            else:
                public_key = public_key_hex(load_private_key(private_key))
        app_secret = app_secret or generate_app_secret()
        self.control("POST", "sip/apps", {"appId": app_id, "appSecret": app_secret, "publicKey": public_key,
                                          "name": name}, expect=201)
        creds = {"appId": app_id, "appSecret": app_secret, "publicKey": public_key}
        if private_key is not None:
            creds["privateKey"] = private_key
        return creds

    def sip_post(self, body: Any, *, authorization: str | None | bool = True, env: str = "prod",
                 headers: dict[str, str] | None = None) -> requests.Response:
        """POST to the exchange without ``SIPClient`` and its local checks, for tests of the sandbox itself.

        ``body`` is bytes, or an object sent as compact JSON. ``authorization=True`` signs a valid
        ``Civic`` header for the default app over these exact bytes; a string is sent as it is; ``None``
        or ``False`` sends none.
        """
        from django_civic.protocols.sip.crypto import compact_json, hmac_base64, load_private_key
        from django_civic.protocols.sip.tokens import partner_token

        raw = body if isinstance(body, bytes) else compact_json(body).encode("utf-8")
        sent = {"Content-Type": "application/json", "Accept": "*/*", **(headers or {})}
        if authorization is True:
            token = partner_token(defaults.SIP_APP_ID, load_private_key(defaults.SIP_APP_PRIVATE_KEY),
                                  self.sip_api_url)
            # ext over the raw bytes (as PHP and C# clients do), so any body, even not JSON, is signed.
            sent["Authorization"] = f"Civic {token}.{hmac_base64(raw, defaults.SIP_APP_SECRET)}"
        elif isinstance(authorization, str):
            sent["Authorization"] = authorization
        return requests.post(self.sip_exchange_url(env), data=raw, headers=sent, timeout=10)

    def sip_civic_public_key(self) -> str:
        """The hex public key the sandbox signs auth codes and data tokens with."""
        return self.control("GET", "sip/civic-key")["publicKey"]
