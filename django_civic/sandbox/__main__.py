"""``python -m django_civic.sandbox --port N``: run the sandbox on its own.

Prints its base URL and default credentials as JSON on the first line, then serves until stopped.
"""

from __future__ import annotations

import argparse
import json
import sys


def configure() -> None:
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=True,
            SECRET_KEY="django-civic-sandbox",
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF="django_civic.sandbox.root_urls",
            INSTALLED_APPS=["django.contrib.contenttypes"],
            USE_TZ=True,
        )
    import django

    django.setup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m django_civic.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--verbose", action="store_true", help="log each request")
    args = parser.parse_args(argv)
    configure()

    from django.test import RequestFactory

    from django_civic.sandbox.control import index
    from django_civic.sandbox.server import SandboxServer

    server = SandboxServer(args.host, args.port, quiet=not args.verbose)
    host = f"{server.host}:{server.port}"
    request = RequestFactory().get("/", HTTP_HOST=host)
    request.urlconf = "django_civic.sandbox.root_urls"
    from django.urls import set_urlconf

    set_urlconf(request.urlconf)
    print(json.dumps(json.loads(index(request).content)), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
