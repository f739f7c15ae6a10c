"""The fetch after an accepted IDEMIA callback, as a task of Django's Tasks framework.

``django.tasks`` on Django 6, the ``django-tasks`` backport (the same API) on Django 5.2. The site's
``TASKS`` setting picks what runs it: with none, Django's ``ImmediateBackend`` runs it at once, inside the
callback request after the commit; with a queue (``django-tasks-db``'s ``db_worker``...), a worker does
(docs/proofing.md, "Running the fetch"). Only the session's primary key goes into the queue: no secret,
no identity id, no personal data.
"""

from __future__ import annotations

try:
    from django.tasks import task
except ImportError:  # Django 5.2: the backport
    from django_tasks import task  # type: ignore[no-redef]  # the same decorator

from django_civic.idemia.fetch import fetch_and_record


@task()
def fetch_proofing_result(session_pk: int) -> str | None:
    """Fetch, decide and record one session; its status after, or None if another worker has it.

    Safe to run more than once (IDEMIA's retried callbacks and the reconcile command enqueue it again):
    ``fetch_and_record`` claims the session first, and the proof at most once.
    """
    session = fetch_and_record(session_pk)
    return session.status if session is not None else None
