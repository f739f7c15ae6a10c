from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "example_project.demo"
    label = "demo"

    def ready(self) -> None:
        register_site_with_the_sandbox()


def register_site_with_the_sandbox() -> None:
    """Tell the sandbox's Civic to trust this site's identity tokens, as you would on Civic's Integration page
    (issuer, audience, JWKS URL). In-process: the demo mounts the sandbox; it fetches the JWKS over HTTP."""
    from django_civic.conf import civic_settings

    if not (civic_settings.SANDBOX and civic_settings.IDP["ISSUER"]):
        return
    from django_civic.civic_auth.idp import audience, issuer, jwks_uri
    from django_civic.sandbox.oidc.federation import ExternalProvider, federation

    site_issuer = issuer()
    assert site_issuer is not None
    federation.register(ExternalProvider(site_issuer, audience(), jwks_uri=jwks_uri(site_issuer)))
