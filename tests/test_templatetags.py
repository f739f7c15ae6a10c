"""``{% civic_scripts %}`` and ``{% civic_button %}``."""

from __future__ import annotations

import re

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.test import RequestFactory

from django_civic.sandbox import defaults


def render(source, request=None, **context):
    template = Template("{% load civic %}" + source)
    if request is None:
        request = RequestFactory().get("/")
    return template.render(Context({"request": request, **context}))


def attr(html, name):
    match = re.search(rf'{name}="([^"]*)"', html)
    assert match, f"{name} not in {html}"
    return match.group(1)


def test_scripts_load_civic_in_production(settings):
    settings.CIVIC = {"SIP": {"APP_ID": "prod-app"}}
    html = render("{% civic_scripts %}")
    assert '<script src="https://hosted-sip.civic.com/js/civic.sip.min.js" defer></script>' in html
    assert '<link rel="stylesheet" href="https://hosted-sip.civic.com/css/civic-modal.min.css">' in html
    assert '<script src="/static/django_civic/civic.js" defer></script>' in html
    # civic.sip.js must run before our script, which uses the global it defines.
    assert html.index("civic.sip.min.js") < html.index("django_civic/civic.js")


def test_scripts_follow_the_configured_urls(settings):
    settings.CIVIC = {"SIP": {"SCRIPT_URL": "https://cdn.example/civic.js", "CSS_URL": "https://cdn.example/c.css"}}
    html = render("{% civic_scripts %}")
    assert 'src="https://cdn.example/civic.js"' in html and 'href="https://cdn.example/c.css"' in html


def test_scripts_use_the_configured_sandbox_whatever_the_host(settings):
    settings.CIVIC = {"SANDBOX": True}  # SANDBOX_URL's default: the mount under runserver's address
    html = render("{% civic_scripts %}", RequestFactory().get("/", HTTP_HOST="demo.test:8000"))
    assert 'src="http://127.0.0.1:8000/civic-sandbox/sip/js/civic.sip.js"' in html
    assert 'href="http://127.0.0.1:8000/civic-sandbox/sip/css/civic-modal.css"' in html
    assert "hosted-sip.civic.com" not in html


def test_scripts_use_a_standalone_sandbox(settings):
    settings.CIVIC = {"SANDBOX": True, "SANDBOX_URL": "http://127.0.0.1:8765"}
    html = render("{% civic_scripts %}")
    assert 'src="http://127.0.0.1:8765/sip/js/civic.sip.js"' in html


def test_button_markup_and_data_attributes(settings):
    settings.CIVIC = {"SIP": {"APP_ID": "prod-app"}}
    html = render('{% civic_button scope="BASIC_SIGNUP" next="/profile/" %}')
    assert '<button type="button"' in html
    assert 'class="civic-button-a medium"' in html
    assert attr(html, "data-civic-app-id") == "prod-app"
    assert attr(html, "data-civic-scope") == "BASIC_SIGNUP"
    assert attr(html, "data-civic-next") == "/profile/"
    assert attr(html, "data-civic-exchange-url") == "/civic/sip/exchange/"
    assert len(attr(html, "data-civic-csrf-token")) == 64
    assert attr(html, "data-civic-csrf-cookie") == "csrftoken"
    assert "Log in with Civic" in html
    # The status line is the button's accessible description and a live region.
    status_id = attr(html, "aria-describedby")
    assert re.search(rf'<span id="{status_id}" class="civic-status" role="status" aria-live="polite">', html)
    for state in ("working", "cancelled", "error", "success"):
        assert attr(html, f"data-civic-text-{state}")


def test_button_uses_the_sandbox_app_when_the_sandbox_is_on(settings):
    settings.CIVIC = {"SANDBOX": True}
    html = render("{% civic_button %}")
    assert attr(html, "data-civic-app-id") == defaults.SIP_APP_ID
    assert attr(html, "data-civic-scope") == "BASIC_SIGNUP"


def test_several_buttons_get_distinct_ids(settings):
    settings.CIVIC = {"SANDBOX": True}
    html = render('{% civic_button scope="BASIC_SIGNUP" %}{% civic_button scope="ANONYMOUS_LOGIN" %}'
                  '{% civic_button scope="PROOF_OF_IDENTITY" label="Prove it" size="large" id="poi" %}')
    ids = re.findall(r'<button type="button" id="([^"]+)"', html)
    statuses = re.findall(r'aria-describedby="([^"]+)"', html)
    assert len(set(ids)) == 3 and len(set(statuses)) == 3 and ids[2] == "poi"
    assert "Log in anonymously with Civic" in html and "Prove it" in html
    assert 'class="civic-button-a large"' in html


@pytest.mark.parametrize("unsafe", ["//evil.example", "https://evil.example/", "/\\evil.example",
                                    "javascript:alert(1)", "%2F%2Fevil.example"])
def test_unsafe_next_is_dropped(settings, unsafe):
    settings.CIVIC = {"SANDBOX": True}
    assert attr(render("{% civic_button next=target %}", target=unsafe), "data-civic-next") == ""


def test_next_defaults_to_the_query_string_and_is_checked_too(settings):
    settings.CIVIC = {"SANDBOX": True}
    html = render("{% civic_button %}", RequestFactory().get("/", {"next": "/orders/?page=2"}))
    assert attr(html, "data-civic-next") == "/orders/?page=2"
    html = render("{% civic_button %}", RequestFactory().get("/", {"next": "//evil.example"}))
    assert attr(html, "data-civic-next") == ""


def test_attribute_values_are_escaped(settings):
    settings.CIVIC = {"SANDBOX": True}
    html = render('{% civic_button label=label next="/a?b=1&c=\\"2" %}',
                  label='<img src=x onerror="alert(1)">')
    assert "<img" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


def test_user_facing_texts_come_from_the_template_not_the_script(settings):
    """civic.js shows only texts the template rendered (translatable there) or the server's translated
    detail."""
    from pathlib import Path

    import django_civic

    settings.CIVIC = {"SANDBOX": True}
    html = render("{% civic_button %}")
    texts = re.findall(r'data-civic-text-[a-z]+="([^"]+)"', html)
    assert len(texts) == 6
    script = (Path(django_civic.__file__).parent / "static" / "django_civic" / "civic.js").read_text()
    for text in texts:
        assert text not in script
    button = Path(django_civic.__file__).parent / "templates" / "django_civic" / "button.html"
    assert "{% translate" in button.read_text()


@pytest.mark.parametrize(("source", "message"), [
    ('{% civic_button scope="EVERYTHING" %}', "unknown scope"),
    ('{% civic_button size="huge" %}', "size must be one of"),
])
def test_bad_arguments_are_template_errors(settings, source, message):
    settings.CIVIC = {"SANDBOX": True}
    with pytest.raises(TemplateSyntaxError, match=message):
        render(source)


def test_the_button_template_is_overridable(settings, tmp_path):
    (tmp_path / "django_civic").mkdir()
    (tmp_path / "django_civic" / "button.html").write_text("<button class=mine data-scope={{ scope }}>")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    settings.CIVIC = {"SANDBOX": True}
    from django.template import engines

    html = engines["django"].from_string('{% load civic %}{% civic_button scope="ANONYMOUS_LOGIN" %}').render(
        {"request": RequestFactory().get("/")})
    assert html == "<button class=mine data-scope=ANONYMOUS_LOGIN>"
