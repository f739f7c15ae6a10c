import requests


def test_sandbox_index_lists_default_credentials(civic_sandbox):
    info = requests.get(civic_sandbox.url, timeout=5).json()
    assert info["base_url"] == civic_sandbox.url
    assert info["sip"]["api_url"] == civic_sandbox.url + "sip/"


def test_fault_injection_is_validated(civic_sandbox):
    response = requests.post(civic_sandbox.url + "control/faults", json={"channel": "x", "kind": "status",
                                                                           "status": 9999}, timeout=5)
    assert response.status_code == 400
    civic_sandbox.inject_fault("sip.exchange", "status", status=504, count=2)
    assert len(civic_sandbox.control("GET", "faults")["pending"]["sip.exchange"]) == 2
