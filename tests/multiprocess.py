"""App servers in their own processes, sharing PostgreSQL and Redis: the harness of the cross-process tests.

A replay test is only convincing when the copies of a code land on different workers that share nothing
but the database and the cache, as in production. :class:`AppServers` starts N processes, each serving the
test site (``tests.settings``, ``tests.urls``) with Django's threaded WSGI server on a free port of
127.0.0.1, all on the PostgreSQL database :data:`DATABASE` and Redis database 13 (never the lead's
``django_civic``/``test_django_civic``, nor another suite's Redis database). The sandbox runs wherever the
test put it (the ``civic_sandbox`` fixture serves it in a thread of the test process).

    with AppServers(sandbox_url, count=2, civic={"TRUSTED_PROXY_COUNT": 1}) as servers:
        status, body = servers.post(0, "/civic/sip/exchange/", {"token": code})
        servers.rows()        # {"users": ..., "identities": ..., ...} read straight from PostgreSQL

Every child runs in its own process group and is stopped (SIGTERM, then SIGKILL) when the ``with`` block
ends, whatever happened inside it. The children are this module run as a script:
``python -m tests.multiprocess migrate|serve|work`` (``work``: a task worker, ``db_worker --batch``).
"""

from __future__ import annotations

import atexit
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DATABASE = "civic_attack"
REDIS_URL = "redis://127.0.0.1:6379/13"
# A CSRF secret as Django's cookie carries it; the header repeats it, as a page of the site would.
CSRF = "attackcsrf" * 3 + "ok"
# Tables a login writes; TRUNCATE ... CASCADE also empties every table pointing at them.
_RESET_TABLES = ("auth_user", "django_session")
_ROW_COUNTS = {
    "users": "auth_user",
    "identities": "django_civic_civicidentity",
    "attributes": "django_civic_verifiedattribute",
    "proofing_sessions": "django_civic_proofingsession",
    "sessions": "django_session",
    "tokens": "authtoken_token",
}


def _pg(dbname: str, **options: Any) -> Any:
    import psycopg

    return psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname=dbname, connect_timeout=5,
                           **options)


def _child_env(civic: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CIVIC_TEST_"))}
    env.update({
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")])),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "CIVIC_TEST_DB": "postgres",
        "CIVIC_TEST_DB_NAME": DATABASE,
        "CIVIC_TEST_CACHE": "redis",
        "CIVIC_TEST_REDIS_URL": REDIS_URL,
        "CIVIC_MULTIPROCESS_CIVIC": json.dumps(civic),
    })
    return env


def _stop(process: subprocess.Popen[str]) -> None:
    """Stop a child we started, by its own process group id: SIGTERM, then SIGKILL."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(5)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    for stream in (process.stdout, process.stderr):
        if stream:
            stream.close()


class AppServers:
    """``count`` app servers sharing :data:`DATABASE` and Redis db 13, using the sandbox at ``sandbox_url``.

    ``civic`` is merged into the servers' ``CIVIC`` settings. On entry the database is created if missing and
    migrated, the tables a login writes are emptied and Redis db 13 is flushed, so each use starts clean.
    """

    def __init__(self, sandbox_url: str, *, count: int = 2, civic: dict[str, Any] | None = None) -> None:
        self.civic = {"SANDBOX": True, "SANDBOX_URL": sandbox_url, "SANDBOX_ALLOW_WITHOUT_DEBUG": True,
                      **(civic or {})}
        self.count = count
        self.urls: list[tuple[str, int]] = []
        self._processes: list[subprocess.Popen[str]] = []
        self._stderr: list[list[str]] = []

    # -- lifecycle ---------------------------------------------------------------------------------------

    def __enter__(self) -> AppServers:
        atexit.register(self.stop)  # should the test run itself be stopped before the with block ends
        try:
            self._prepare()
            for _ in range(self.count):
                self._processes.append(self._spawn("serve"))
            for index, process in enumerate(self._processes):
                self.urls.append(self._address(process, index))
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        for process in self._processes:
            _stop(process)
        atexit.unregister(self.stop)

    def _prepare(self) -> None:
        with _pg("postgres", autocommit=True) as admin:
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
                admin.execute(f'CREATE DATABASE "{DATABASE}"')
        migrate = subprocess.run([sys.executable, "-m", "tests.multiprocess", "migrate"], cwd=REPO,
                                 env=_child_env(self.civic), capture_output=True, text=True, timeout=300)
        if migrate.returncode != 0:
            raise RuntimeError(f"migrating {DATABASE} failed: {migrate.stderr[-2000:]}")
        self.reset()

    @staticmethod
    def reset() -> None:
        """Empty the tables a login writes and the shared cache (Redis db 13): a clean start for a test."""
        with _pg(DATABASE, autocommit=True) as conn:
            conn.execute(f"TRUNCATE {', '.join(_RESET_TABLES)} RESTART IDENTITY CASCADE")
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
        try:
            client.flushdb()
        finally:
            client.close()

    def _spawn(self, command: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.multiprocess", command], cwd=REPO, env=_child_env(self.civic),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )
        lines: list[str] = []
        self._stderr.append(lines)

        def drain() -> None:  # a child logging more than a pipe buffer would otherwise block
            assert process.stderr is not None
            for line in process.stderr:
                if len(lines) < 500:
                    lines.append(line)

        threading.Thread(target=drain, daemon=True).start()
        return process

    def _address(self, process: subprocess.Popen[str], index: int) -> tuple[str, int]:
        box: list[str] = []
        stdout = process.stdout
        assert stdout is not None
        reader = threading.Thread(target=lambda: box.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(60)
        if not box or not box[0]:
            raise RuntimeError(f"app server {index} did not start: {self.stderr(index)}")
        info = json.loads(box[0])
        return info["host"], info["port"]

    def stderr(self, index: int) -> str:
        return "".join(self._stderr[index])[-3000:]

    # -- requests and state ------------------------------------------------------------------------------

    def connect(self, server: int) -> http.client.HTTPConnection:
        host, port = self.urls[server]
        connection = http.client.HTTPConnection(host, port, timeout=60)
        connection.connect()
        return connection

    def post(self, server: int, path: str, body: Any, *, client_ip: str = "192.0.2.1",
             connection: http.client.HTTPConnection | None = None) -> tuple[int, dict[str, Any]]:
        """POST JSON as a browser page of the site would (CSRF cookie and header), through one trusted proxy
        that says the client is ``client_ip``. Returns the status and the JSON body."""
        conn = connection or self.connect(server)
        try:
            conn.request("POST", path, body=json.dumps(body).encode(), headers={
                "Content-Type": "application/json", "Cookie": f"csrftoken={CSRF}", "X-CSRFToken": CSRF,
                "X-Forwarded-For": client_ip,
            })
            response = conn.getresponse()
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
        finally:
            conn.close()

    @staticmethod
    def rows() -> dict[str, int]:
        """Row counts of the shared database, read with a connection of our own."""
        with _pg(DATABASE) as conn:
            return {name: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                    for name, table in _ROW_COUNTS.items()}


def fire_at_once(count: int, send: Callable[[int], Any]) -> list[Any]:
    """Run ``send(i)`` for i in 0..count-1 in threads released together; results (or exceptions) in order."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait(30)
            results[i] = send(i)
        except Exception as exc:  # collected; the test asserts on it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


# -- the child side ----------------------------------------------------------------------------------------


def _setup_django() -> None:
    from django.conf import settings

    settings.CIVIC = json.loads(os.environ["CIVIC_MULTIPROCESS_CIVIC"])
    import django

    django.setup()


def _migrate() -> int:
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    return 0


def _serve() -> int:
    _setup_django()
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class Handler(WSGIRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # the stdlib's name
            pass

    class Server(ThreadedWSGIServer):
        request_queue_size = 128  # 25+ connections arrive at once; the default backlog (10) would drop some

    server = Server(("127.0.0.1", 0), Handler, allow_reuse_address=True)
    server.daemon_threads = True
    server.set_app(get_wsgi_application())
    host, port = server.server_address[:2]
    print(json.dumps({"host": host, "port": port, "pid": os.getpid()}), flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def _work() -> int:
    """django-tasks-db's worker: run every queued task (``TASKS`` is its database backend), then exit."""
    _setup_django()
    from django.conf import settings
    from django.core.management import call_command

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    call_command("db_worker", batch=True, startup_delay=False, interval=0.1, verbosity=0)
    return 0


def _exit_with_parent() -> None:
    """A child outlives a killed test run otherwise (it has a session of its own): leave with the parent."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def main(argv: Sequence[str]) -> int:
    commands = {"migrate": _migrate, "serve": _serve, "work": _work}
    if len(argv) != 1 or argv[0] not in commands:
        print("usage: python -m tests.multiprocess migrate|serve|work", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _exit_with_parent()
    return commands[argv[0]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
