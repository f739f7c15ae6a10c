"""Sandbox: Civic SIP (the hosted flow's code exchange, civic.sip.js and its wallet, and a control API).

Modules: ``personas`` (who can approve and what each scope releases), ``state`` (apps, codes, payloads),
``authorizer`` (the checks of civic-protocols.md A6), ``exchange`` (the API), ``browser`` (script, CSS,
wallet), ``control`` (``control/sip/``), ``testing`` (``SandboxHandle`` helpers).
"""
