"""Read-only admin for pharmacy records, shown only to unblinded roles (a placebo bag draws no vials)."""

from django.contrib import admin

from trial.pharmacy.models import DrugLot, Preparation, Wastage
from trial.randomization.admin import UnblindedReadOnlyAdmin


@admin.register(DrugLot)
class DrugLotAdmin(UnblindedReadOnlyAdmin):
    list_display = ("lot_number", "expiry_date", "vials_received", "received_on")


@admin.register(Preparation)
class PreparationAdmin(UnblindedReadOnlyAdmin):
    list_display = ("kit_id", "visit", "dose_mg", "status", "prepared_by", "prepared_at", "dispensed_at")


@admin.register(Wastage)
class WastageAdmin(UnblindedReadOnlyAdmin):
    list_display = ("lot", "vials", "wasted_on", "reason")
