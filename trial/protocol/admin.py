from django.contrib import admin

from trial.protocol.models import Site, Trial, VisitDefinition


@admin.register(Trial)
class TrialAdmin(admin.ModelAdmin):
    list_display = ("code", "title", "target_enrollment", "protocol_sha256", "loaded_at")
    readonly_fields = ("protocol_sha256", "loaded_at")


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "trial")


@admin.register(VisitDefinition)
class VisitDefinitionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "week", "window_before_days", "window_after_days", "infusion")
