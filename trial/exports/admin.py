"""'Export selected' on every admin list, through the same engine as the exports page.

Added from AppConfig.ready to the model admins of the models that feed an export dataset, so no
admin below this layer imports the exports app; the clinical admins offer no other bulk action (a
bulk delete would bypass the audit). Offered only to roles with the export capability; the engine
checks it again and applies the blind; the selection only narrows rows.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from trial.access import Capability, can
from trial.exports.dictionary import DATASETS
from trial.exports.services import ExportError, export_bundle

DESCRIPTION = "Export selected (CSV bundle with codebook and manifest)"


@admin.action(description=DESCRIPTION)
def export_selected(modeladmin: Any, request: HttpRequest, queryset: Any) -> HttpResponse | None:
    codes = [d.code for d in DATASETS if d.model is queryset.model]
    if not codes:
        modeladmin.message_user(request, "These records are not part of any export dataset.", messages.WARNING)
        return None
    try:
        bundle = export_bundle(
            by=request.user, fmt="csv", datasets=codes, record_ids=set(queryset.values_list("pk", flat=True))
        )
    except (ExportError, PermissionDenied) as exc:
        modeladmin.message_user(request, str(exc), messages.ERROR)
        return None
    response = HttpResponse(bundle.content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{bundle.filename}"'
    return response


def offer_export_selected() -> None:
    exported = {d.model for d in DATASETS if d.model is not None}
    for model, model_admin in admin.site._registry.items():
        if model not in exported:
            continue
        original = model_admin.get_actions

        def get_actions(request: HttpRequest, original: Any = original) -> dict[str, Any]:
            actions = dict(original(request))
            if request is not None and can(request.user, Capability.EXPORT):
                actions["export_selected"] = (export_selected, "export_selected", DESCRIPTION)
            return actions

        model_admin.get_actions = get_actions  # type: ignore[method-assign]
