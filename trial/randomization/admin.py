"""Read-only admin for randomization, shown only to roles trial.blinding calls unblinded.

Writes go through the services (list making, allocation, code breaks), which check the list's
freeze and hash; the admin never changes a list. A superuser is not unblinded by being superuser.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from trial import blinding
from trial.core.admin import ModelAdmin, ReadOnlyAdminMixin
from trial.randomization.models import Allocation, CodeBreak, ListEntry, ListEvent, RandomizationList, StratumCursor


class UnblindedReadOnlyAdmin(ReadOnlyAdminMixin, ModelAdmin):
    def has_module_permission(self, request: HttpRequest) -> bool:
        return blinding.is_unblinded_role(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return blinding.is_unblinded_role(request.user)


@admin.register(RandomizationList)
class RandomizationListAdmin(UnblindedReadOnlyAdmin):
    list_display = (
        "name",
        "source",
        "block_sizes",
        "is_active",
        "frozen_at",
        "created_by",
        "created_at",
        "sha256",
    )


@admin.register(ListEntry)
class ListEntryAdmin(UnblindedReadOnlyAdmin):
    list_filter = ("randomization_list", "stratum")

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        base = ("randomization_number", "randomization_list", "stratum", "sequence", "block_number", "block_size")
        return (*base, "arm_shown") if blinding.can_see_arm(request.user) else base

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = ("randomization_list", "stratum", "sequence", "block_number", "block_size", "randomization_number")
        return (*fields, "arm") if blinding.can_see_arm(request.user) else fields

    @admin.display(description="arm")
    def arm_shown(self, obj: ListEntry) -> str:
        return obj.arm  # only listed when blinding.can_see_arm said yes (get_list_display)


@admin.register(Allocation)
class AllocationAdmin(UnblindedReadOnlyAdmin):
    list_display = ("participant", "randomization_number", "stratum", "randomized_at", "randomized_by")

    @admin.display(description="randomization number")
    def randomization_number(self, obj: Allocation) -> str:
        return obj.entry.randomization_number


@admin.register(StratumCursor)
class StratumCursorAdmin(UnblindedReadOnlyAdmin):
    list_display = ("randomization_list", "stratum", "next_sequence", "size")


@admin.register(ListEvent)
class ListEventAdmin(UnblindedReadOnlyAdmin):
    list_display = ("at", "kind", "randomization_list", "by", "detail")


@admin.register(CodeBreak)
class CodeBreakAdmin(UnblindedReadOnlyAdmin):
    list_display = ("participant", "requested_by", "requested_at", "immediate", "status", "decided_by", "reviewed_by")
