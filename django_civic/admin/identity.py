"""Admin for Civic identities and their verified attributes.

Read-only by construction (rows are written by ``record_identity`` only, as simplejwt's blacklist
admin): no add, no edit; deleting an identity is unlinking it (``identity_unlinked`` is sent).
Attribute values are masked everywhere (``a***@example.com``, phones by their last two digits, images
by their size) and document images are never read from the database for display.

Built for large tables: the changelist's query count does not depend on the number of rows
(``list_select_related``, one prefetch of the email attribute only), there is no full-table count,
the provider filter's choices are cached, and search runs exact, indexed lookups (subject, the user
model's username field, and the keyed digest of an email or phone attribute, never of another
attribute: that would confirm guessed masked values) instead of ``LIKE '%x%'``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db.models import Case, Exists, F, OuterRef, Prefetch, QuerySet, Subquery, Value, When
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_civic.core.encryption import is_email_label, is_phone_label, is_searchable_label, search_digests
from django_civic.core.fields import Ciphertext, EncryptedTextField
from django_civic.core.identities import purge_attributes, unlink_identity
from django_civic.core.labels import CIVIC_AUTH, CIVIC_SIP, IDEMIA, provider_name
from django_civic.models import CivicIdentity, ProofingSession, VerifiedAttribute
from django_civic.models.identity import EMAIL_LABEL, is_image_label

# Values above this size are never fetched for display (document images are hundreds of KB).
DISPLAY_MAX_BYTES = 4096
PROVIDERS_CACHE_KEY = "django_civic:admin:providers"
PROVIDERS_CACHE_SECONDS = 600
SEARCH_MAX_RESULTS = 1000
# Labels whose values are categories rather than personal data: shown in full.
_PUBLIC_LABEL_ENDINGS = (".type",)
_PUBLIC_LABEL_PREFIXES = ("verifications.",)


# -- masking ---------------------------------------------------------------------------------------

def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def mask_value(label: str, value: str | None, size: int) -> str:
    """What the admin shows for an attribute value: never the full value of personal data."""
    if is_image_label(label):
        # Images arrive base64-encoded: show the picture's own size (3 bytes per 4 characters).
        return f"[{_('image')}, {human_size(size * 3 // 4)}]"
    if value is None:
        return f"[{_('value')}, {human_size(size)}]"
    if label.endswith(_PUBLIC_LABEL_ENDINGS) or label.startswith(_PUBLIC_LABEL_PREFIXES):
        return value
    if "@" in value and is_email_label(label):
        local, _sep, domain = value.strip().rpartition("@")
        return f"{local[:1]}***@{domain}"
    if is_phone_label(label):
        digits = [ch for ch in value if ch.isdigit()]
        return "***" + "".join(digits[-2:])
    text = value.strip()
    if len(text) <= 4:
        return "***"
    return f"{text[:1]}***{text[-1:]}"


def _display_queryset(queryset: QuerySet) -> QuerySet:
    """Attributes with the ciphertext fetched only for small values, as ``display_value``."""
    return queryset.defer("value").annotate(display_value=Case(
        When(value_size__lte=DISPLAY_MAX_BYTES, then=F("value")),
        default=Value(None),
        output_field=EncryptedTextField(),
    ))


def masked(attribute: VerifiedAttribute) -> str:
    raw = getattr(attribute, "display_value", None)
    value = raw.decrypt() if isinstance(raw, Ciphertext) else raw
    return mask_value(attribute.label, value, attribute.value_size)


# -- inlines ---------------------------------------------------------------------------------------

class VerifiedAttributeInline(admin.TabularInline):
    # No "label" column: each row already starts with the attribute's human name (its __str__), so the
    # label is shown once, and the raw key rides along as the value column's title.
    model = VerifiedAttribute
    fields = ("masked_value", "is_valid", "is_owner", "first_verified_at", "last_verified_at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False
    ordering = ("label",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return _display_queryset(super().get_queryset(request))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("value"))
    def masked_value(self, obj: VerifiedAttribute) -> str:
        return format_html('<span title="{}">{}</span>', obj.label, masked(obj))


class CivicIdentityInline(admin.TabularInline):
    """Identities on the user admin (appended to the registered user admin's inlines)."""

    model = CivicIdentity
    fk_name = "user"
    fields = ("provider_display", "short_subject", "created_at", "last_login")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("subject"))
    def short_subject(self, obj: CivicIdentity) -> str:
        return _short(obj.subject)

    @admin.display(description=_("provider"))
    def provider_display(self, obj: CivicIdentity) -> str:
        return provider_name(obj.provider)


# -- filters ---------------------------------------------------------------------------------------

class ProviderFilter(admin.SimpleListFilter):
    title = _("provider")
    parameter_name = "provider"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        # SELECT DISTINCT over a million rows on every page view is the slowest part of a changelist;
        # providers are a handful of values that change rarely.
        providers = cache.get(PROVIDERS_CACHE_KEY)
        if providers is None:
            providers = sorted(CivicIdentity.objects.order_by().values_list("provider", flat=True).distinct())
            cache.set(PROVIDERS_CACHE_KEY, providers, PROVIDERS_CACHE_SECONDS)
        return [(p, provider_name(p)) for p in providers]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value():
            return queryset.filter(provider=self.value())
        return queryset


class ValidityFilter(admin.SimpleListFilter):
    title = _("validity")
    parameter_name = "validity"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("verified_email", _("Verified email")),
            ("no_verified_email", _("No verified email")),
            ("invalid", _("Has invalid attributes")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        verified_email = VerifiedAttribute.objects.filter(
            identity=OuterRef("pk"), label=EMAIL_LABEL, is_valid=True, is_owner=True)
        if self.value() == "verified_email":
            return queryset.filter(Exists(verified_email))
        if self.value() == "no_verified_email":
            return queryset.filter(~Exists(verified_email))
        if self.value() == "invalid":
            invalid = VerifiedAttribute.objects.filter(identity=OuterRef("pk"), is_valid=False)
            return queryset.filter(Exists(invalid))
        return queryset


# -- pagination ------------------------------------------------------------------------------------

class LargeTablePaginator(Paginator):
    """Counts that stay cheap on big tables: an exact count up to ``COUNT_CAP``, past which counting
    stops (``COUNT(*)`` over a ``LIMIT`` subquery, through the ORM), so a list of a million identities
    costs no more to count than one of ten thousand. Such a list pages through ``COUNT_CAP`` results
    (narrow it with search or a filter to reach the rest)."""

    COUNT_CAP = 10_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count
        return queryset.order_by()[: self.COUNT_CAP].count()


# -- identities ------------------------------------------------------------------------------------

@admin.register(CivicIdentity)
class CivicIdentityAdmin(admin.ModelAdmin):
    # The provider once, by its display name (Civic Auth's issuer URL made the list wider than 1280 px).
    # The user by id, not by username: usernames are made from verified names and emails (the adapter's
    # default), which this list masks for staff who may only view identities.
    list_display = ("short_subject", "user_link", "provider_display", "verified_email", "email_verified",
                    "last_login_date")
    list_filter = (ProviderFilter, ValidityFilter)
    list_select_related = ("user",)
    show_full_result_count = False
    paginator = LargeTablePaginator
    ordering = ("-pk",)
    raw_id_fields = ("user",)
    fields = ("user_link", "provider_display", "subject", "created_at", "updated_at", "last_login")
    readonly_fields = fields
    inlines = (VerifiedAttributeInline,)
    actions = ("unlink_selected", "purge_selected_attributes")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        email_only = _display_queryset(VerifiedAttribute.objects.filter(label=EMAIL_LABEL).only(
            "id", "identity_id", "label", "value_size", "is_valid", "is_owner"))
        return super().get_queryset(request).prefetch_related(
            Prefetch("attributes", queryset=email_only, to_attr="email_attributes"))

    # -- columns -------------------------------------------------------------------------------

    @admin.display(description=_("subject"), ordering="subject")
    def short_subject(self, obj: CivicIdentity) -> str:
        return _short(obj.subject)

    @admin.display(description=_("provider"), ordering="provider")
    def provider_display(self, obj: CivicIdentity) -> str:
        return provider_name(obj.provider)

    @admin.display(description=_("last login"), ordering="last_login")
    def last_login_date(self, obj: CivicIdentity) -> str:
        # The date only: a full date and time made the list wider than a 1280 px screen.
        return date_format(obj.last_login, "SHORT_DATE_FORMAT") if obj.last_login else "-"

    @admin.display(description=_("user"), ordering="user")
    def user_link(self, obj: CivicIdentity) -> str:
        opts = obj.user._meta
        try:
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.user_id])
        except NoReverseMatch:
            return _("user %(id)s") % {"id": obj.user_id}
        return format_html('<a href="{}">{}</a>', url, _("user %(id)s") % {"id": obj.user_id})

    @admin.display(description=_("email"))
    def verified_email(self, obj: CivicIdentity) -> str:
        attribute = _email(obj)
        return masked(attribute) if attribute else "-"

    @admin.display(description=_("email verified"), boolean=True)
    def email_verified(self, obj: CivicIdentity) -> bool | None:
        attribute = _email(obj)
        return attribute.verified if attribute else None

    # -- search --------------------------------------------------------------------------------

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        """Exact-match fields: the subject and the user model's username field (social-auth style:
        derived from the configured user model), plus emails and phones through the digest."""
        return ("subject", f"user__{get_user_model().USERNAME_FIELD}")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet,
                           search_term: str) -> tuple[QuerySet, bool]:
        """Identities whose subject or username is exactly the term, or with an email or phone attribute
        equal to it (digest). Nothing else: a match on any other value would reveal what masking hides."""
        term = search_term.strip()
        if not term:
            return queryset, False
        # Each branch is one index lookup; UNION keeps it one query. The database's "=" may ignore case
        # (MariaDB's collations, a case-insensitive collation on PostgreSQL): Python keeps exact matches.
        fields = self.get_search_fields(request)
        branches = [CivicIdentity.objects.filter(**{field: term}).values_list("pk", field).order_by()
                    for field in fields]
        first, *rest = branches
        rows = first.union(*rest) if rest else first
        ids = {pk for pk, value in rows[:SEARCH_MAX_RESULTS] if value == term}
        digests = search_digests(term)
        if digests:
            hits = (VerifiedAttribute.objects.filter(value_digest__in=digests)
                    .values_list("identity_id", "label").order_by()[:SEARCH_MAX_RESULTS])
            ids.update(identity_id for identity_id, label in hits if is_searchable_label(label))
        return queryset.filter(pk__in=ids), False

    # -- read-only, and deleting is unlinking ---------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the change page is a read-only view for anyone with view (or change) permission

    def delete_model(self, request: HttpRequest, obj: CivicIdentity) -> None:
        unlink_identity(obj, request=request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for identity in queryset.select_related("user"):
            unlink_identity(identity, request=request)

    @admin.action(description=_("Unlink selected identities from their users"), permissions=["delete"])
    def unlink_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = 0
        for identity in queryset.select_related("user"):
            unlink_identity(identity, request=request)
            count += 1
        message = ngettext("Unlinked %d identity.", "Unlinked %d identities.", count) % count
        self.message_user(request, message, messages.SUCCESS)

    @admin.action(description=_("Purge the stored attributes of selected identities"), permissions=["delete"])
    def purge_selected_attributes(self, request: HttpRequest, queryset: QuerySet) -> None:
        purged = sum(purge_attributes(identity, request=request)
                     for identity in queryset.select_related("user"))
        message = ngettext("Purged %d attribute.", "Purged %d attributes.", purged) % purged
        self.message_user(request, message, messages.SUCCESS)


def _short(subject: str) -> str:
    return subject if len(subject) <= 12 else f"{subject[:8]}…"


def _email(obj: CivicIdentity) -> VerifiedAttribute | None:
    attributes = getattr(obj, "email_attributes", None)
    return attributes[0] if attributes else None


# -- the user admin ----------------------------------------------------------------------------------

def _verified_email_of_user() -> Exists:
    return Exists(VerifiedAttribute.objects.filter(identity__user=OuterRef("pk"), label=EMAIL_LABEL,
                                                   is_valid=True, is_owner=True))


class UserProviderFilter(admin.SimpleListFilter):
    title = _("connected provider")
    parameter_name = "civic_provider"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        kinds = [(kind, provider_name(kind)) for kind in (CIVIC_SIP, CIVIC_AUTH, IDEMIA)]
        return [*kinds, ("none", _("None"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        identities = CivicIdentity.objects.filter(user=OuterRef("pk"))
        value = self.value()
        if value == CIVIC_AUTH:  # its provider is the issuer URL
            return queryset.filter(Exists(identities.filter(provider__startswith="http")))
        if value in (CIVIC_SIP, IDEMIA):
            return queryset.filter(Exists(identities.filter(provider=value)))
        if value == "none":
            return queryset.filter(~Exists(identities))
        return queryset


class UserVerifiedEmailFilter(admin.SimpleListFilter):
    title = _("verified email")
    parameter_name = "civic_verified_email"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(_verified_email_of_user())
        if self.value() == "no":
            return queryset.filter(~_verified_email_of_user())
        return queryset


class UserAssuranceFilter(admin.SimpleListFilter):
    title = _("level of assurance")
    parameter_name = "civic_loa"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        levels = (ProofingSession.objects.filter(status=ProofingSession.Status.VERIFIED).order_by()
                  .values_list("level_of_assurance", flat=True).distinct())
        return [*((level, level) for level in sorted(set(levels)) if level), ("none", _("Not proofed"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        verified = ProofingSession.objects.filter(user=OuterRef("pk"), status=ProofingSession.Status.VERIFIED)
        if self.value() == "none":
            return queryset.filter(~Exists(verified))
        if self.value():
            return queryset.filter(Exists(verified.filter(level_of_assurance=self.value())))
        return queryset


class CivicUserAdminMixin:
    """What the Users changelist shows of each user's verification: connected providers, a verified
    email, the level of assurance of their latest successful identity check; and filters on them.
    One column, from two annotations of the changelist's query and one prefetch of the identities'
    providers."""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        verified = ProofingSession.objects.filter(user=OuterRef("pk"), status=ProofingSession.Status.VERIFIED)
        latest_level = (verified.order_by("-completed_at", "-pk").values("level_of_assurance")[:1])
        return super().get_queryset(request).annotate(  # type: ignore[misc]
            civic_has_verified_email=_verified_email_of_user(), civic_level=Subquery(latest_level),
        ).prefetch_related(Prefetch("civic_identities", to_attr="civic_identity_list",
                                    queryset=CivicIdentity.objects.only("id", "user_id", "provider")))

    @admin.display(description=_("Civic"))
    def civic_verification(self, obj: Any) -> str:
        """One narrow column (the site's own columns and the filters already fill 1280 px): the connected
        providers, then "email ✓" and the level of assurance when there are any."""
        names = sorted({provider_name(i.provider) for i in getattr(obj, "civic_identity_list", ())})
        facts = [str(_("email ✓"))] if getattr(obj, "civic_has_verified_email", False) else []
        if getattr(obj, "civic_level", None):
            facts.append(obj.civic_level)
        return format_html('<span class="civic-providers">{}</span><br><small class="civic-facts">{}</small>',
                           ", ".join(names) or "-", " · ".join(facts))


CIVIC_USER_COLUMNS = ("civic_verification",)
CIVIC_USER_FILTERS = (UserProviderFilter, UserVerifiedEmailFilter, UserAssuranceFilter)


def attach_identities_to_user_admin(site: admin.AdminSite = admin.site) -> bool:
    """Re-register the user model's admin with :class:`CivicIdentityInline` appended, if it is registered,
    and the verification columns and filters of :class:`CivicUserAdminMixin` on its changelist.

    Runs when this module is imported (admin autodiscovery), so list ``django_civic`` after the app
    that registers your user admin, or call this yourself after registering it.
    """
    user_model = get_user_model()
    if not site.is_registered(user_model):
        return False
    current = type(site.get_model_admin(user_model))
    if any(issubclass(inline, CivicIdentityInline) for inline in current.inlines):
        return True
    extended = type(current.__name__, (CivicUserAdminMixin, current), {
        "inlines": [*current.inlines, CivicIdentityInline],
        "list_display": [*current.list_display, *CIVIC_USER_COLUMNS],
        "list_filter": [*current.list_filter, *CIVIC_USER_FILTERS],
        "__module__": current.__module__,
        "__doc__": current.__doc__,
    })
    site.unregister(user_model)
    site.register(user_model, extended)
    return True


attach_identities_to_user_admin()
