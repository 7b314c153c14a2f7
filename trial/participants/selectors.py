"""Reads for the participant pages: the list, live eligibility, screen failures (the participant
page, which looks across apps, is `trial.workspace`).

Nothing here reads a treatment arm. The randomization number and date are annotated straight from
the allocation, so the arm column is never even loaded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.http import Http404

from trial.core.types import Actor
from trial.participants import eligibility
from trial.participants.models import Participant, Screening
from trial.participants.scope import participants_for, site_filter
from trial.protocol.selectors import protocol


def criterion_texts() -> dict[str, str]:
    cfg = protocol()
    return {c.code: c.text for c in cfg.inclusion + cfg.exclusion}


def failed_criteria_labels(failed: list[str]) -> list[str]:
    """The screening's stored failure codes as the protocol's words ('x (not answered)' kept as such)."""
    texts = criterion_texts()
    out = []
    for item in failed:
        code, _, rest = item.partition(" ")
        out.append(texts.get(code, code) + (f" {rest}" if rest else ""))
    return out


@dataclass(frozen=True)
class EligibilityPreview:
    eligible: bool
    decided: bool
    failed: list[tuple[str, str]]
    missing: list[tuple[str, str]]
    computed: dict[str, bool] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "eligible": self.eligible,
            "decided": self.decided,
            "failed": [{"code": c, "text": t} for c, t in self.failed],
            "missing": [{"code": c, "text": t} for c, t in self.missing],
            "computed": self.computed,
        }


def eligibility_preview(values: Mapping[str, Any], *, date_of_birth: date | None) -> EligibilityPreview:
    """Eligibility from what is filled in so far, by the same rules the service applies on save."""
    result = eligibility.evaluate({**values, "date_of_birth": date_of_birth}, protocol())
    texts = criterion_texts()
    return EligibilityPreview(
        eligible=result.eligible,
        decided=not result.missing,
        failed=[(c, texts[c]) for c in result.failed],
        missing=[(c, texts[c]) for c in result.missing],
        computed=result.computed,
    )


def participant_list(
    *, user: Actor | None, search: str = "", status: str = "", site: str = ""
) -> QuerySet[Participant]:
    """The participants of the sites this user may reach (trial.participants.scope)."""
    qs = (
        participants_for(user)
        .select_related("site")
        .annotate(
            randomization_number=F("allocation__entry__randomization_number"),
            randomized_at=F("allocation__randomized_at"),
        )
        .order_by("participant_id")
    )
    if search:
        term = search.strip()
        qs = qs.filter(
            Q(participant_id__icontains=term)
            | Q(screening_number__icontains=term)
            | Q(allocation__entry__randomization_number__icontains=term)
        )
    if status:
        qs = qs.filter(status=status)
    if site:
        qs = qs.filter(site__code=site)
    return qs


def participant_get(participant_id: str, *, user: Actor | None) -> Participant:
    """404 for an id unknown, voided, or at a site out of this user's reach: the same answer for all three."""
    try:
        return (
            participant_list(user=user).select_related("screening", "end_of_study").get(participant_id=participant_id)
        )
    except Participant.DoesNotExist as exc:
        raise Http404("No such participant.") from exc


@dataclass(frozen=True)
class ScreenFailures:
    rows: list[tuple[str, list[str]]]  # (participant_id, reasons)
    by_criterion: list[tuple[str, int]]  # CONSORT: reasons for exclusion, most frequent first
    total: int


def screen_failures(limit: int = 20, *, user: Actor | None) -> ScreenFailures:
    """Screen failures with their reasons (CONSORT flow), at the sites this user may reach: the reasons
    counted by the database (one query, a row per distinct combination of failed criteria) and the
    latest `limit` failures (one query), so the cost does not grow with the number screened."""
    failures = (
        Screening.objects.active()
        .filter(site_filter(user, "participant__site"))
        .filter(eligible=False, participant__status=Participant.Status.SCREEN_FAILED)
    )
    counter: Counter[str] = Counter()
    total = 0
    for failed, n in failures.values_list("failed_criteria").annotate(n=Count("id")).order_by():
        total += n
        for label in failed_criteria_labels(failed):
            counter[label] += n
    latest = failures.order_by("-screening_date", "-id").values_list("participant__participant_id", "failed_criteria")
    return ScreenFailures(
        rows=[(pid, failed_criteria_labels(failed)) for pid, failed in latest[:limit]],
        # Most frequent first; equal counts in the order of the reasons' text, so the table is stable.
        by_criterion=sorted(counter.items(), key=lambda item: (-item[1], item[0])),
        total=total,
    )
