"""Secrets stay hidden on Django's error pages of our views, ``DEBUG`` or not.

Our login views and the code below them hold auth codes, ID and access tokens, callback secrets and
people's verified values in local variables and bodies; they are marked with ``sensitive_variables`` and
``sensitive_post_parameters``. Django's ``SafeExceptionReporterFilter`` honours those marks only while
``DEBUG`` is off, so the technical 500 page of a development site (often run against real Civic
accounts, and sometimes reachable) showed them in full. Django lets a request carry its own filter
(``request.exception_reporter_filter``); on *our* requests we set the site's own filter class, switched
on. The site's filter for the rest of its views is left as it is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.views.debug import get_default_exception_reporter_filter

__all__ = ["always_active_filter", "hide_secrets_in_error_reports"]


@functools.cache
def _always_active(filter_class: type) -> type:
    return type(f"AlwaysActive{filter_class.__name__}", (filter_class,),
                {"is_active": lambda self, request: True})


def always_active_filter() -> Any:
    """The site's ``DEFAULT_EXCEPTION_REPORTER_FILTER``, active even with ``DEBUG`` on."""
    # Typed as a plain class: mypy checks a type[X] against Hashable through X's instances' __hash__.
    filter_class: type = type(get_default_exception_reporter_filter())
    return _always_active(filter_class)()


def hide_secrets_in_error_reports(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a function view: its error pages and reports hide what is marked sensitive, always."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        request.exception_reporter_filter = always_active_filter()
        return view(request, *args, **kwargs)

    return wrapper
