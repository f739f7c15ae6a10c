"""The fetch after an IDEMIA callback run by a real task worker, in a process of its own.

The callback (in this process) records the session and enqueues ``fetch_proofing_result`` in
django-tasks-db's queue, a table of the test database; ``python -m tests.multiprocess work`` then runs
``db_worker --batch`` on that same database, and the worker fetches GIPS from the sandbox over real HTTP.
A worker process needs a database both processes can open, so this runs on PostgreSQL
(``make test-postgres``, CI) and is skipped on the in-memory SQLite of the default run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.db import connection

from django_civic.models import CivicIdentity, ProofingSession

from .multiprocess import REPO
from .test_proofing_flow import browser, finish, post_callback, start, user  # noqa: F401 - fixtures

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(os.environ.get("CIVIC_TEST_DB") != "postgres",
                       reason="needs a database two processes share (CIVIC_TEST_DB=postgres)"),
    pytest.mark.django_db(transaction=True),
]
Status = ProofingSession.Status


def run_worker(civic: dict) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update({
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")])),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        # The test database pytest-django made, which the worker must read (not the configured name).
        "CIVIC_TEST_DB_NAME": connection.settings_dict["NAME"],
        "CIVIC_MULTIPROCESS_CIVIC": json.dumps(civic),
    })
    return subprocess.run([sys.executable, "-m", "tests.multiprocess", "work"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_worker_process_fetches_what_the_callback_enqueued(settings, civic_sandbox, browser):  # noqa: F811
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    civic = civic_sandbox.civic_settings(SANDBOX_ALLOW_WITHOUT_DEBUG=True, API={"THROTTLE_RATE": None})
    settings.CIVIC = civic
    session = start(browser)
    path, body = finish(civic_sandbox, session)
    assert post_callback(path, body).status_code == 204
    session.refresh_from_db()
    # Answered before any GIPS call: the fetch waits in the queue, keyed by the session's primary key only.
    assert session.status == Status.CALLBACK_RECEIVED
    identity_id = session.idemia_identity_id
    assert civic_sandbox.idemia_identity(identity_id)["identity_fetches"] == 0
    queued = DBTaskResult.objects.get()
    assert queued.args_kwargs == {"args": [session.pk], "kwargs": {}}

    worker = run_worker(civic)
    assert worker.returncode == 0, worker.stderr[-3000:]
    session.refresh_from_db()
    assert session.status == Status.VERIFIED
    assert CivicIdentity.objects.get(provider="idemia").subject == identity_id
    assert civic_sandbox.idemia_identity(identity_id)["identity_fetches"] == 1
    queued.refresh_from_db()
    assert queued.status == "SUCCESSFUL" and queued.return_value == Status.VERIFIED

    # IDEMIA's retry of the same callback enqueues again; the worker's run changes nothing.
    assert post_callback(path, body).status_code == 204
    assert run_worker(civic).returncode == 0
    session.refresh_from_db()
    assert session.status == Status.VERIFIED
    assert civic_sandbox.idemia_identity(identity_id)["identity_fetches"] == 1
