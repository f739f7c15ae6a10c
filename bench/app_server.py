"""``python -m bench.app_server``: the benchmark site served on 127.0.0.1 (row 5 starts two).

Django's threaded WSGI server with the sandbox's own request handler, so the app servers and the sandbox
of row 5 pay the
same HTTP server costs (responses sent in one segment). Settings come from the environment set by the row
(``CIVIC_BENCH_*``: PostgreSQL schema, Redis cache, sandbox URL); the row has migrated the database
already. Prints ``{"url": ...}`` on its first line, then serves until stopped.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    import django

    django.setup()
    from django.core.servers.basehttp import ThreadedWSGIServer
    from django.core.wsgi import get_wsgi_application

    from django_civic.sandbox.server import QuietRequestHandler

    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietRequestHandler, allow_reuse_address=True)
    server.daemon_threads = True
    server.set_app(get_wsgi_application())
    host, port = server.server_address[:2]
    print(json.dumps({"url": f"http://{host}:{port}/", "pid": os.getpid()}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
