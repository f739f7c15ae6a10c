"""The README's quick start, followed as written on a brand-new project, down to a login in a real browser.

Builds a wheel of the package, creates a new virtualenv, runs the README's install line in it (with the wheel
in place of the name on PyPI: its dependencies come from the configured index), makes a project with
``django-admin startproject``, and applies the README's "Installing into your project" steps from the
README itself: every code block marked ``<!-- quickstart:NAME -->`` (install, settings, urls, commands,
template). Then ``runserver``, and Debian's Chromium signs in through the sandbox: SIP button, wallet,
approve, signed in. Edit those README blocks and this test follows them, so the README cannot drift.

What the test adds on its own, because a real site has it or this machine needs it: a page that renders the
README's template at ``/``, a free port instead of 8000 (so ``CIVIC["SANDBOX_URL"]``, as the README says to
set when the site runs elsewhere), and its own Redis database (11) instead of the README's database 0.

Marked ``quickstart`` and skipped unless ``CIVIC_QUICKSTART_TESTS=1`` (``make test-quickstart``); it needs
Redis at 127.0.0.1:6379, ``chromium`` on PATH and the package index (for the new virtualenv).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS

ROOT = Path(__file__).resolve().parents[2]
ENABLED = os.environ.get("CIVIC_QUICKSTART_TESTS") == "1"
REDIS_URL = os.environ.get("CIVIC_QUICKSTART_REDIS_URL", "redis://127.0.0.1:6379/11")
SCREENSHOT = "/tmp/django_civic_quickstart.png"

pytestmark = [pytest.mark.quickstart,
              pytest.mark.skipif(not ENABLED, reason="make test-quickstart (CIVIC_QUICKSTART_TESTS=1)")]

BLOCK = re.compile(r"<!-- quickstart:(\w+) -->\s*```\w*\n(.*?)^\s*```", re.S | re.M)

# ``...`` in a README list means "what is already there": the list keeps its earlier entries at that spot.
EXPAND_ELLIPSIS = """
for _name, _value in list(globals().items()):
    if isinstance(_value, list) and any(_item is ... for _item in _value):
        _at = next(_i for _i, _item in enumerate(_value) if _item is ...)
        _kept = [_item for _item in _before.get(_name, []) if _item not in _value]
        globals()[_name] = _value[:_at] + _kept + _value[_at + 1:]
"""


def readme_blocks() -> dict[str, str]:
    blocks = {name: textwrap.dedent(body) for name, body in BLOCK.findall((ROOT / "README.md").read_text())}
    assert set(blocks) == {"install", "settings", "urls", "commands", "template"}, sorted(blocks)
    return blocks


def run(*args: str | Path, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600,
                            env=project_env())
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def project_env() -> dict[str, str]:
    """The new project's own environment: none of the test suite's Django settings or import paths."""
    return {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}


def build_wheel(tmp: Path) -> Path:
    """``pip wheel`` of a clean copy of the sources, built as pyproject.toml says (its build requirements from
    the package index, like every install of this test)."""
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.cfg", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "django_civic", src / "django_civic",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", tmp / "dist", src)
    [wheel] = (tmp / "dist").glob("django_civic-*.whl")
    return wheel


def pip_install(line: str, python: Path, wheel: Path) -> None:
    """The README's ``pip install`` line, with the wheel standing in for the package's name."""
    words = shlex.split(line)
    assert words[:2] == ["pip", "install"], line
    args = [re.sub(r"^django-civic(?=\[|$)", str(wheel), word) for word in words[2:]]
    assert any(str(wheel) in arg for arg in args), line
    run(python, "-m", "pip", "install", *args)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stdout.read() if server.stdout else "runserver exited"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in 60 s")


def test_the_readme_quick_start_signs_in_on_a_new_project(tmp_path):
    redis = pytest.importorskip("redis")
    redis.Redis.from_url(REDIS_URL).ping()  # the README's cache: Redis must be running
    blocks = readme_blocks()

    # 1. Install: a new virtualenv, the README's install line.
    wheel = build_wheel(tmp_path)
    run(sys.executable, "-m", "venv", tmp_path / "venv")
    python = tmp_path / "venv" / "bin" / "python"
    for line in blocks["install"].splitlines():
        if line.strip():
            pip_install(line, python, wheel)

    # A brand-new project.
    site = tmp_path / "site"
    site.mkdir()
    run(tmp_path / "venv" / "bin" / "django-admin", "startproject", "mysite", site)
    port = free_port()

    # 2. Settings and 3. URLs: the README's blocks, appended as written; then what the test adds.
    with (site / "mysite" / "settings.py").open("a") as settings:
        settings.write("\n_before = {k: v for k, v in dict(globals()).items() if k.isupper()}\n")
        settings.write(blocks["settings"])
        settings.write(EXPAND_ELLIPSIS)
        settings.write(textwrap.dedent(f"""
            # The test's own: its Redis database, its port, and a template folder for the site's page.
            if CACHES["default"]["BACKEND"].endswith("RedisCache"):
                CACHES["default"]["LOCATION"] = {REDIS_URL!r}
            CIVIC["SANDBOX_URL"] = "http://127.0.0.1:{port}/civic-sandbox/"
            TEMPLATES[0]["DIRS"] = [BASE_DIR / "templates"]
        """))
    with (site / "mysite" / "urls.py").open("a") as urls:
        urls.write("\n_before = {'urlpatterns': list(urlpatterns)}\n")
        urls.write(blocks["urls"])
        urls.write(EXPAND_ELLIPSIS)
        urls.write("\nfrom django.views.generic import TemplateView  # the site's own page, at /\n"
                   "urlpatterns.append(path('', TemplateView.as_view(template_name='home.html')))\n")
    (site / "templates").mkdir()
    (site / "templates" / "home.html").write_text(blocks["template"])

    # 4. The README's commands: migrate, check.
    for line in blocks["commands"].splitlines():
        if line.strip():
            words = shlex.split(line)
            assert words[0] == "python", line
            result = run(python, *words[1:], cwd=site)
            assert not re.search(r"django_civic\.[EW]\d{3}", result.stdout + result.stderr), result.stderr

    # The site, and a login through the sandbox in Debian's Chromium.
    server = subprocess.Popen([str(python), "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                              cwd=site, env=project_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/", server)
        # Without the openapi extra (not in the README's line) there is no schema URL, and nothing misses it.
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/civic/api/schema/", timeout=10)
        assert missing.value.code == 404
        me = sign_in_with_civic_sip(base)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert me["user"]["email"] == "alice@example.com"
    assert [identity["provider"] for identity in me["identities"]] == ["civic_sip"]

    # Without the extra's Redis client the same project is refused by `manage.py check` (E010), where
    # before every login answered 503 and the check said nothing.
    run(python, "-m", "pip", "uninstall", "-y", "redis")
    result = run(python, "manage.py", "check", cwd=site, check=False)
    assert result.returncode != 0 and "django_civic.E010" in result.stderr, result.stderr


def sign_in_with_civic_sip(base: str) -> dict:
    """README template's SIP button -> sandbox wallet -> alice -> approve; returns ``GET civic/me/``."""
    if CHROMIUM is None:
        pytest.fail("chromium is not on PATH (make test-quickstart installs it)")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{base}/")
            page.locator("button[data-civic-button]").click()
            wallet = page.frame_locator("#civic-sr-frame")
            expect(wallet.get_by_test_id("sandbox-persona-alice")).to_be_visible()
            wallet.get_by_test_id("sandbox-persona-alice").check()
            with page.expect_response(f"{base}/civic/sip/exchange/") as exchange:
                wallet.get_by_test_id("sandbox-approve").click()
            assert exchange.value.status == 200, exchange.value.text()
            page.wait_for_load_state()
            page.screenshot(path=SCREENSHOT, full_page=True)
            response = context.request.get(f"{base}/civic/me/")  # the browser's session cookie
            assert response.status == 200, response.text()
            assert errors == []
            return json.loads(response.text())
        finally:
            browser.close()
