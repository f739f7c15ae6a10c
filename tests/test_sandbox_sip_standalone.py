"""``python -m django_civic.sandbox --port 0`` alone (no project settings): the SIP part works end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests

from django_civic.sip import SIPBadRequest, SIPClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    # stderr to a file: Django's DEBUG console logging would otherwise fill an unread pipe and block.
    errors = open(tmp_path_factory.mktemp("standalone") / "stderr.txt", "w+")
    process = subprocess.Popen([sys.executable, "-m", "django_civic.sandbox", "--port", "0"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
    try:
        line = process.stdout.readline()
        if not line:
            errors.seek(0)
            pytest.fail(f"the sandbox did not start: {errors.read()[-2000:]}")
        yield json.loads(line)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
        errors.close()


def test_standalone_sandbox_prints_its_sip_credentials_and_exchanges_codes(standalone):
    sip = standalone["sip"]
    assert sip["api_url"] == standalone["base_url"] + "sip/"
    client = SIPClient(sip["app_id"], sip["app_secret"], sip["private_key"], api_url=sip["api_url"],
                       env=sip["env"], civic_public_key=sip["civic_public_key"], timeout=5)
    minted = requests.post(standalone["base_url"] + "control/sip/codes",
                           json={"persona": "carol", "scope": "PROOF_OF_IDENTITY"}, timeout=5)
    assert minted.status_code == 201
    data = client.exchange_code(minted.json()["authToken"])
    assert data.user_id == minted.json()["userId"]
    assert data.get("documents.genericId.type").value == "Passport"
    with pytest.raises(SIPBadRequest):
        client.exchange_code(minted.json()["authToken"])


def test_standalone_sandbox_serves_the_script_and_wallet(standalone):
    script = requests.get(standalone["sip"]["script_url"], timeout=5)
    assert script.status_code == 200
    assert f'var SANDBOX_BASE = "{standalone["base_url"]}";' in script.text
    wallet = requests.get(standalone["base_url"] + "sip/wallet/", timeout=5)
    assert wallet.status_code == 200 and 'data-testid="sandbox-approve"' in wallet.text
    preview = requests.post(standalone["base_url"] + "sip/wallet/preview", timeout=5,
                            json={"appId": standalone["sip"]["app_id"],
                                  "verificationLevel": "Anonymous_Login"})
    assert preview.status_code == 200


def test_standalone_sandbox_refuses_bad_input_with_4xx(standalone):
    exchange = requests.post(standalone["sip"]["api_url"] + "prod/scopeRequest/authCode", data=b"[[[",
                             headers={"Authorization": "Civic x.y.z.w"}, timeout=5)
    assert exchange.status_code == 401 and exchange.content == b"Unauthorized"
    fault = requests.post(standalone["base_url"] + "control/faults",
                          json={"channel": "sip.exchange", "kind": "nope"}, timeout=5)
    assert fault.status_code == 400
