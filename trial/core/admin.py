"""Admin base for clinical records: read-only, history visible, never deletes.

Clinical data are entered and corrected through the forms and services, which ask for a reason for
change and check the version; an admin "save" would do neither, so the admin only shows records and
their full audit history (who, when, old -> new, why).
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from simple_history.admin import SimpleHistoryAdmin

if TYPE_CHECKING:
    # The stubs make ModelAdmin generic; at run time it is not subscriptable.
    ModelAdmin = admin.ModelAdmin[Any]
else:
    ModelAdmin = admin.ModelAdmin


# Narrow what an admin list or object page shows to this request's user, (request, queryset) ->
# queryset. An app above core registers its rule from AppConfig.ready (the site scope:
# trial.workspace.scope), so this module imports nothing above it.
_QUERYSET_SCOPES: list[Callable[[HttpRequest, QuerySet[Any]], QuerySet[Any]]] = []


def admin_queryset_scope_register(scope: Callable[[HttpRequest, QuerySet[Any]], QuerySet[Any]]) -> None:
    if scope not in _QUERYSET_SCOPES:
        _QUERYSET_SCOPES.append(scope)


class ReadOnlyAdminMixin:
    """Shows records; never adds, changes or deletes them (writes go through the services)."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs: QuerySet[Any] = super().get_queryset(request)  # type: ignore[misc]  # a mixin of ModelAdmin
        for scope in _QUERYSET_SCOPES:
            qs = scope(request, qs)
        return qs

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ClinicalRecordAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):  # type: ignore[misc]  # simple-history has no stubs
    history_list_display = ["history_change_reason"]
    list_per_page = 50

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def _require_visible(self, request: HttpRequest, object_id: str) -> None:
        # simple-history reads old versions straight from the history table, and its history view
        # falls back to the latest history row when get_queryset() hides the object. So first make
        # sure the object is one this user may see at all (get_queryset applies the blinding rules).
        if not self.get_queryset(request).filter(pk=unquote(object_id)).exists():
            raise Http404

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        self._require_visible(request, object_id)
        response: HttpResponse = super().history_view(request, object_id, extra_context)
        return response

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> HttpResponse:
        # simple-history's form view saves a POSTed old version whatever has_change_permission says:
        # a revert with no reason for change, no version check, no edit checks and the old
        # updated_by (21 CFR 11.10(e); ICH E6(R3) 4.2: every change attributable and explained).
        # Old versions are for reading; corrections go through the services.
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied("Old versions cannot be restored here; correct the record through its form.")
        self._require_visible(request, object_id)
        response: HttpResponse = super().history_form_view(request, object_id, version_id, extra_context)
        return response

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        # Hides the "Revert" button; history_form_view refuses the POST itself.
        return True

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # The bulk "delete selected" action would bypass the audit; there are no bulk actions here.
        return {}


def register_clinical(model: Any, **options: Any) -> None:
    admin.site.register(model, type(f"{model.__name__}Admin", (ClinicalRecordAdmin,), options))


# Human names of models whose class name reads badly when Django derives one ("Ham d17s", "End of
# studys", "List entrys"), and of the auth groups, which are the roles. A trial model whose own Meta
# gives a name keeps it; these replace a name Django made up from the class name, or Django's own
# ("groups"). A display name is not part of the schema, so no migration of those apps is involved.
HUMAN_NAMES: dict[str, tuple[str, str]] = {
    "visits.HamD17": ("HAM-D-17", "HAM-D-17"),
    "participants.EndOfStudy": ("end of study", "end of study"),
    "randomization.ListEntry": ("list entry", "list entries"),
    "auth.Group": ("role", "roles"),
}


def human_names_apply() -> None:
    from django.apps import apps

    for label, (singular, plural) in HUMAN_NAMES.items():
        try:
            opts = apps.get_model(label)._meta
        except LookupError:  # an app that is not installed in these settings
            continue
        ours = opts.app_config.name.startswith("trial.")
        if not ours or "verbose_name" not in opts.original_attrs:
            opts.verbose_name = singular
        if not ours or "verbose_name_plural" not in opts.original_attrs:
            opts.verbose_name_plural = plural
