"""Mount the sandbox in a project: ``path("civic-sandbox/", include("django_civic.sandbox.urls"))``.

The mount answers only while ``CIVIC["SANDBOX"]`` and ``DEBUG`` are both on. Otherwise its URLs resolve to
nothing, so the site answers its ordinary 404 as if the sandbox were not mounted: a production site that
kept the line in its URLconf (the example project and the README have it) exposes no test credentials, no
code minting and no control API. ``django_civic.E008`` (``check --deploy``) names such a mount.

The stand-alone server and the ``civic_sandbox`` test fixture serve :mod:`~django_civic.sandbox.routes`
directly: they run outside any site's settings.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import Resolver404, URLResolver
from django.urls.resolvers import ResolverMatch, RoutePattern

from django_civic.conf import civic_settings
from django_civic.sandbox import routes


def sandbox_enabled() -> bool:
    """Whether a mounted sandbox may answer. ``SANDBOX_ALLOW_WITHOUT_DEBUG`` does not widen this: a site
    without ``DEBUG`` uses a stand-alone sandbox (``python -m django_civic.sandbox``) if it needs one."""
    return bool(civic_settings.SANDBOX) and bool(settings.DEBUG)


class SandboxMount(URLResolver):
    """The sandbox's routes, matched only while :func:`sandbox_enabled`, decided on every request (settings
    can change at run time in tests); reversing URLs is unaffected."""

    def resolve(self, path: str) -> ResolverMatch:
        if not sandbox_enabled():
            # "No match" (the including resolver tries its other patterns): the site's 404, nothing revealed.
            raise Resolver404({"path": path})
        return super().resolve(path)


app_name = routes.app_name

urlpatterns = [SandboxMount(RoutePattern(""), routes.urlpatterns)]
