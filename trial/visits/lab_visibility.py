"""Lab results as a user may see them. The rule itself is trial.blinding's; this applies it to a queryset."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from trial import blinding
from trial.visits.models import LabResult


def visible_labs(user: Any, queryset: QuerySet[LabResult]) -> QuerySet[LabResult]:
    hidden = blinding.hidden_lab_analytes_for(user)
    if not hidden:
        return queryset
    # Baseline values are visible to everyone; post-baseline values of arm-revealing analytes are not.
    return queryset.exclude(analyte__in=hidden, visit__definition__week__gt=0)
