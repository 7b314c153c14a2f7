"""Reads for the participant pages: the list, one participant's page, live eligibility, screen failures.

Nothing here reads a treatment arm. The randomization number and date are annotated straight from
the allocation, so the arm column is never even loaded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db.models import F, Prefetch, Q, QuerySet
from django.http import Http404
from django.urls import reverse

from trial.core.roles import Role, has_role
from trial.participants import eligibility
from trial.participants.models import Consent, Participant, Screening
from trial.protocol.selectors import protocol

DATA_ENTRY_ROLES = (Role.COORDINATOR, Role.INVESTIGATOR)
RATING_ROLES = (Role.RATER, Role.COORDINATOR, Role.INVESTIGATOR)


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


def participant_list(*, search: str = "", status: str = "", site: str = "") -> QuerySet[Participant]:
    qs = (
        Participant.objects.active()
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


def participant_get(participant_id: str) -> Participant:
    try:
        return participant_list().select_related("screening", "end_of_study").get(participant_id=participant_id)
    except Participant.DoesNotExist as exc:
        raise Http404("No such participant.") from exc


@dataclass
class Action:
    label: str
    url_name: str
    kwargs: dict[str, Any]
    primary: bool = False

    @property
    def url(self) -> str:
        return reverse(self.url_name, kwargs=self.kwargs)


def participant_page(*, participant_id: str, user: Any) -> dict[str, Any]:
    """Everything the participant page shows, in a fixed number of queries whatever the data."""
    from trial.queries.selectors import open_queries_by_visit
    from trial.visits.selectors import visit_grid

    participant = participant_get(participant_id)
    screening = _one_to_one(participant, "screening")
    consents = list(Consent.objects.active().filter(participant=participant).select_related("taken_by"))
    grid = visit_grid(
        participant=participant, user=user, query_counts=open_queries_by_visit(user=user, participant_id=participant.pk)
    )
    safety = (
        Participant.objects.filter(pk=participant.pk)
        .prefetch_related(
            Prefetch("adverse_events", queryset=_active("adverse_events")),
            Prefetch("concomitant_medications", queryset=_active("concomitant_medications")),
            Prefetch("deviations", queryset=_active("deviations")),
        )
        .get()
    )
    page = {
        "participant": participant,
        "screening": screening,
        "failed_criteria": failed_criteria_labels(screening.failed_criteria) if screening else [],
        "baseline_deadline": (
            screening.screening_date + timedelta(days=protocol().baseline_max_days_after_screening)
            if screening
            else None
        ),
        "consents": consents,
        "visits": grid,
        "adverse_events": list(safety.adverse_events.all()),
        "conmeds": list(safety.concomitant_medications.all()),
        "deviations": list(safety.deviations.all()),
        "end_of_study": _one_to_one(participant, "end_of_study"),
        "can_raise_queries": has_role(user, Role.DATA_MANAGER),
    }
    page["actions"] = next_actions(
        participant=participant,
        user=user,
        has_consent=bool(consents),
        grid=grid,
        has_eos=page["end_of_study"] is not None,
    )
    return page


def _active(relation: str) -> QuerySet[Any]:
    model = Participant._meta.get_field(relation).related_model
    return model.objects.active()  # type: ignore[union-attr]


def _one_to_one(obj: Any, name: str) -> Any:
    record = getattr(obj, name, None)
    return record if record is not None and not record.is_voided else None


def next_actions(
    *, participant: Participant, user: Any, has_consent: bool, grid: list[Any], has_eos: bool
) -> list[Action]:
    """What this user may do next for this participant, most likely first."""
    status = participant.status
    pid = {"participant_id": participant.participant_id}
    actions: list[Action] = []
    entry = has_role(user, *DATA_ENTRY_ROLES)
    S = Participant.Status
    if entry and status in (S.SCREENING, S.ELIGIBLE, S.SCREEN_FAILED):
        actions.append(Action("Edit screening", "participants:screening_edit", pid))
    if entry and status == S.ELIGIBLE:
        if has_consent:
            actions.insert(0, Action("Randomize", "participants:randomize", pid, primary=True))
        else:
            actions.insert(0, Action("Record consent", "participants:consent", pid, primary=True))
    if status == S.RANDOMIZED:
        upcoming = next((row for row in grid if row.visit.status == "scheduled"), None)
        if upcoming is not None and (entry or has_role(user, Role.RATER)):
            actions.append(
                Action(
                    f"Next visit: {upcoming.visit.definition.name}",
                    "visits:detail",
                    {"pk": upcoming.visit.pk},
                    primary=True,
                )
            )
        if entry:
            actions += [
                Action("Record adverse event", "safety:ae_new", pid),
                Action("Record concomitant medication", "safety:conmed_new", pid),
                Action("Record protocol deviation", "safety:deviation_new", pid),
            ]
            if not has_eos:
                actions.append(Action("End of study / withdrawal", "participants:end_of_study", pid))
    return actions


@dataclass(frozen=True)
class ScreenFailures:
    rows: list[tuple[str, list[str]]]  # (participant_id, reasons)
    by_criterion: list[tuple[str, int]]  # CONSORT: reasons for exclusion, most frequent first
    total: int


def screen_failures(limit: int = 20) -> ScreenFailures:
    """Screen failures with their reasons (CONSORT flow), in one query."""
    failures = list(
        Screening.objects.active()
        .filter(eligible=False, participant__status=Participant.Status.SCREEN_FAILED)
        .select_related("participant")
        .order_by("-screening_date", "-id")
        .values_list("participant__participant_id", "failed_criteria")
    )
    counter: Counter[str] = Counter()
    for _, failed in failures:
        counter.update(failed_criteria_labels(failed))
    return ScreenFailures(
        rows=[(pid, failed_criteria_labels(failed)) for pid, failed in failures[:limit]],
        by_criterion=counter.most_common(),
        total=len(failures),
    )
