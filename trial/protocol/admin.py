"""The protocol's rows, read-only: they come from the protocol file (`load_protocol`), which is
versioned and checked at start-up; an edit here would be unaudited and would diverge from the file."""

from django.contrib import admin

from trial.core.admin import ModelAdmin, ReadOnlyAdminMixin
from trial.protocol.models import Site, Trial, VisitDefinition


class ReadOnlyProtocolAdmin(ReadOnlyAdminMixin, ModelAdmin):
    pass


@admin.register(Trial)
class TrialAdmin(ReadOnlyProtocolAdmin):
    list_display = ("code", "title", "target_enrollment", "protocol_sha256", "loaded_at")


@admin.register(Site)
class SiteAdmin(ReadOnlyProtocolAdmin):
    list_display = ("code", "name", "trial")


@admin.register(VisitDefinition)
class VisitDefinitionAdmin(ReadOnlyProtocolAdmin):
    list_display = ("code", "name", "week", "window_before_days", "window_after_days", "infusion")
