"""Admin for IDEMIA proofing sessions.

Read-only by construction: sessions are written by the proofing flow only. Staff can filter by status and
level of assurance, search by exact ids (indexed, no ``LIKE``), follow the link to the recorded identity,
delete sessions (with their proof archive), and download a proof archive if they hold the
``django_civic.download_proof`` permission; every download is logged, without personal data.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from django_civic.core.encryption import DecryptionError
from django_civic.models.idemia import ProofingSession

logger = logging.getLogger(__name__)

SEARCH_MAX_RESULTS = 1000
# IDEMIA's scale (idemia-ipa.md 1.4). A fixed list: no DISTINCT scan of a large table to build the filter.
LEVELS = ("LOA0", "LOA1", "LOA2", "LOA3", "LOA4", "LOA5", "LOA6")


class LevelOfAssuranceFilter(admin.SimpleListFilter):
    title = _("level of assurance")
    parameter_name = "loa"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(level, level) for level in LEVELS] + [("none", str(_("none")))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == "none":
            return queryset.filter(level_of_assurance="")
        if value in LEVELS:
            return queryset.filter(level_of_assurance=value)
        return queryset


@admin.register(ProofingSession)
class ProofingSessionAdmin(admin.ModelAdmin):
    list_display = ("public_id", "user", "status", "level_of_assurance", "created_at", "completed_at",
                    "callback_count", "proof_stored")
    list_filter = ("status", LevelOfAssuranceFilter)
    list_select_related = ("user",)
    show_full_result_count = False
    fields = ("public_id", "user", "status", "level_of_assurance", "identity_link", "idemia_status",
              "error_code", "idemia_session_id", "idemia_identity_id", "created_at", "expires_at",
              "callback_received_at", "completed_at", "callback_count", "fetch_attempts", "proof_fetched_at",
              "proof_archive")
    readonly_fields = fields

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        # Exact matches only: the ids are indexed, and a partial id is never what anyone pastes.
        return ("idemia_session_id", "idemia_identity_id", f"user__{get_user_model().USERNAME_FIELD}")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet,
                           search_term: str) -> tuple[QuerySet, bool]:
        """Sessions with an IDEMIA id or a username exactly equal to the term. Not Django's ``=`` prefix:
        that is iexact (PostgreSQL's ``UPPER()`` matches "adı" to "ADI"); and the database's "=" may
        itself ignore case (MariaDB's collations), so Python keeps the exact matches."""
        term = search_term.strip()
        if not term:
            return queryset, False
        fields = self.get_search_fields(request)
        condition = Q()
        for field in fields:
            condition |= Q(**{field: term})
        rows = queryset.filter(condition).values_list("pk", *fields).order_by()[:SEARCH_MAX_RESULTS]
        return queryset.filter(pk__in=[pk for pk, *values in rows if term in values]), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("proof"), boolean=True)
    def proof_stored(self, obj: ProofingSession) -> bool:
        return bool(obj.proof_file)

    @admin.display(description=_("recorded identity"))
    def identity_link(self, obj: ProofingSession) -> str:
        if obj.identity_id is None:
            return "—"
        url = reverse("admin:django_civic_civicidentity_change", args=[obj.identity_id])
        return format_html('<a href="{}">{}</a>', url, _("view the identity and its attributes"))

    @admin.display(description=_("proof archive"))
    def proof_archive(self, obj: ProofingSession) -> str:
        if not obj.proof_file:
            return "—"
        # The download view checks the permission; the link is shown to everyone who can see the session.
        url = reverse("admin:django_civic_proofingsession_proof", args=[obj.pk])
        return format_html('{} B · <a href="{}">{}</a>', f"{obj.proof_size:,}", url,
                           _("download (decrypted)"))

    def get_urls(self) -> list[Any]:
        return [
            path("<int:pk>/proof/", self.admin_site.admin_view(self.download_proof),
                 name="django_civic_proofingsession_proof"),
            *super().get_urls(),
        ]

    def download_proof(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm("django_civic.download_proof"):
            raise PermissionDenied
        from django_civic.idemia.fetch import read_proof

        session = get_object_or_404(ProofingSession, pk=pk)
        try:
            content = read_proof(session)
        except (FileNotFoundError, DecryptionError):
            raise Http404(_("No readable proof archive is stored for this session.")) from None
        logger.info("proof archive of proofing %s downloaded by user pk %s", session.public_id,
                    request.user.pk)
        response = HttpResponse(content, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="proof-{session.public_id}.zip"'
        response["Cache-Control"] = "no-store"
        return response
