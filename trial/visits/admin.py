from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from trial.core.admin import ClinicalRecordAdmin, register_clinical
from trial.visits.lab_visibility import visible_labs
from trial.visits.models import CGIS, HamD17, Infusion, LabResult, LabSample, Visit, VitalSigns

register_clinical(
    Visit,
    list_display=("participant", "definition", "scheduled_date", "actual_date", "status", "out_of_window"),
    list_filter=("status", "definition", "out_of_window"),
    search_fields=("participant__participant_id",),
)
register_clinical(HamD17, list_display=("visit", "total"), search_fields=("visit__participant__participant_id",))
register_clinical(CGIS, list_display=("visit", "score"))
register_clinical(LabSample, list_display=("visit", "drawn_at", "tube_id"))
register_clinical(VitalSigns, list_display=("visit", "weight_kg", "systolic_mmhg", "diastolic_mmhg"))
register_clinical(Infusion, list_display=("visit", "weight_kg", "planned_dose_mg", "delayed_for_infection"))


class LabResultAdmin(ClinicalRecordAdmin):
    list_display = ("visit", "analyte", "value", "unit", "sample_time", "assay_batch")
    list_filter = ("analyte",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[LabResult]:
        return visible_labs(request.user, super().get_queryset(request))


admin.site.register(LabResult, LabResultAdmin)
