"""URLs of the SIP sandbox, under ``{base}sip/`` (the control API is in ``control.py``)."""

from django.urls import path, re_path

from django_civic.sandbox.sip import browser, exchange

urlpatterns = [
    # The Node SDK calls {api}{env}/scopeRequest/authCode; env is "prod" by default, "dev" in its tests.
    re_path(r"^(?P<env>[A-Za-z0-9_-]{1,64})/scopeRequest/authCode$", exchange.exchange, name="sip-exchange"),
    path("payload/<str:payload_id>", exchange.payload, name="sip-payload"),
    # civic.sip.js and its CSS, under both of Civic's names (LEG step 0 uses the .min ones).
    path("js/civic.sip.js", browser.civic_sip_js, name="sip-js"),
    path("js/civic.sip.min.js", browser.civic_sip_js),
    path("css/civic-modal.css", browser.civic_modal_css, name="sip-css"),
    path("css/civic-modal.min.css", browser.civic_modal_css),
    path("images/civic-mark.svg", browser.civic_mark, name="sip-mark"),
    path("wallet/", browser.wallet, name="sip-wallet"),
    path("wallet/wallet.js", browser.wallet_js, name="sip-wallet-js"),
    path("wallet/wallet.css", browser.wallet_css, name="sip-wallet-css"),
    path("wallet/preview", browser.wallet_preview, name="sip-wallet-preview"),
    path("wallet/approve", browser.wallet_approve, name="sip-wallet-approve"),
]
