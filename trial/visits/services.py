"""Writes for visits and assessments. Each record goes through record_save (audit, version check)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from trial import blinding
from trial.access import Capability, can, require
from trial.core.models import ClinicalRecord, User
from trial.core.services import form_entry_save, record_apply, record_save, records_create, records_update
from trial.core.types import Actor
from trial.core.validators import reads_held
from trial.participants.models import Participant
from trial.protocol.models import VisitDefinition
from trial.protocol.selectors import protocol
from trial.visits import soft_checks
from trial.visits.models import CGIS, HamD17, Infusion, LabResult, LabSample, SoftCheckFiring, Visit, VitalSigns
from trial.visits.soft_checks import SoftFinding

R = TypeVar("R", bound=ClinicalRecord)
T = TypeVar("T")


def _due(baseline: date, definition: VisitDefinition) -> tuple[date, date, date]:
    due = baseline + timedelta(days=7 * definition.week)
    return due, due - timedelta(days=definition.window_before_days), due + timedelta(days=definition.window_after_days)


def visits_schedule(
    *, participant: Participant, baseline_date: date, by: Actor, participant_locked: bool = False
) -> list[Visit]:
    """Create the on-study visits (week >= 0) with due dates from the baseline date (Schedule).

    Under the participant's row lock (two schedules of one person cannot interleave), then in bulk:
    one insert of the visits and one of their history rows (`records_create`), not a round of audited
    saves per visit; an enrolment schedules every visit of the protocol at once.

    `participant_locked=True` is for a caller whose transaction already holds that row lock and
    fails as a whole if the schedule fails (the enrolment, `trial.workspace.services`): the schedule
    is then written in that transaction as it stands, without taking the lock again in a savepoint.
    """
    by = require(by, Capability.ENTER_DATA)
    if participant_locked:
        if not transaction.get_connection().in_atomic_block:
            raise ValueError("visits_schedule(participant_locked=True) runs inside the transaction holding the lock.")
        return _visits_schedule(participant=participant, baseline_date=baseline_date, by=by)
    with transaction.atomic():
        Participant.objects.select_for_update(of=("self",)).only("pk").get(pk=participant.pk)
        return _visits_schedule(participant=participant, baseline_date=baseline_date, by=by)


def _visits_schedule(*, participant: Participant, baseline_date: date, by: User) -> list[Visit]:
    existing = set(Visit.objects.filter(participant_id=participant.pk).values_list("definition_id", flat=True))
    planned = []
    for definition in VisitDefinition.objects.filter(week__gte=0).order_by("week"):
        if definition.pk in existing:
            continue
        due, start, end = _due(baseline_date, definition)
        planned.append(
            Visit(
                participant=participant,
                definition=definition,
                scheduled_date=due,
                window_start=start,
                window_end=end,
            )
        )
    return records_create(planned, by=by)


@transaction.atomic
def visits_reschedule_from(*, visit: Visit, anchor: date, by: Actor, reason: str) -> int:
    """Move the not-yet-done visits after `visit` so they keep their spacing from `anchor`.

    Used when the baseline happens on another day than planned (due dates follow the actual
    baseline) and when an infusion is delayed for infection (Design: infusion delayed until
    symptoms resolve): the later visits keep their distance from the delayed one.
    """
    by = require(by, Capability.RATE)  # follows visit_complete, which a rater may call
    moved = []
    later = participant_visits(visit.participant).filter(definition__week__gt=visit.definition.week)
    for other in later.select_for_update():
        if other.status != Visit.Status.SCHEDULED:
            continue
        offset = timedelta(days=7 * (other.definition.week - visit.definition.week))
        due = anchor + offset
        if due == other.scheduled_date:
            continue
        other.scheduled_date = due
        other.window_start = due - timedelta(days=other.definition.window_before_days)
        other.window_end = due + timedelta(days=other.definition.window_after_days)
        moved.append(other)
    # One audited change of them all: each visit's own history row with this reason (records_update).
    records_update(moved, by=by, reason=reason)
    return len(moved)


def participant_visits(participant: Participant) -> Any:
    return Visit.objects.active().filter(participant=participant).select_related("definition")


@transaction.atomic
def visit_complete(*, visit: Visit, actual_date: date, by: Actor, reason: str = "") -> Visit:
    # The rater may date the visit as they rate it (the HAM-D form asks for the date), so RATE, whose
    # roles include every data-entry role.
    by = require(by, Capability.RATE)
    _in_order(visit, actual_date)
    first_time = visit.status != Visit.Status.DONE
    visit.status = Visit.Status.DONE
    visit.actual_date = actual_date
    visit.out_of_window = not (visit.window_start <= actual_date <= visit.window_end)
    record_save(visit, by=by, reason=reason or ("Visit done" if first_time else ""))
    if visit.definition.week == 0 and first_time:
        visits_reschedule_from(
            visit=visit, anchor=actual_date, by=by, reason="Due dates follow the actual baseline date"
        )
    return visit


def visits_complete(*, visits: Sequence[tuple[Visit, date]], by: Actor) -> list[Visit]:
    """Many visits done at once, in the order given (`visit_complete` for each): a casebook
    transcribed after the fact, data carried over from another system, a synthetic trial.

    The same rules as one at a time: the visits' order (a baseline first; dates in the order of the
    weeks, among the visits already done and those done before in the list), the window flag, the
    record's validation and the close-out guards; a baseline done on another day than planned moves
    the due dates of the later visits not yet done first, each change audited with its reason, as
    `visits_reschedule_from` does. Then one update of the visits and one insert of their history rows
    ("Visit done") (trial.core.services.records_update). All or nothing.
    """
    user = require(by, Capability.RATE)  # as visit_complete: the rater may date the visit
    if not visits:
        return []
    with transaction.atomic():
        in_call = {v.pk: v for v, _ in visits}
        if len(in_call) != len(visits):
            twice = next(v for v, _ in visits if sum(1 for w, _ in visits if w.pk == v.pk) > 1)
            raise ValidationError(f"The visit {twice} is given twice.")
        participant_ids = {v.participant_id for v, _ in visits}
        done: dict[int, list[tuple[int, date, str]]] = {pid: [] for pid in participant_ids}
        for pid, week, day, name in (
            Visit.objects.active()
            .filter(participant_id__in=participant_ids, status=Visit.Status.DONE)
            .exclude(pk__in=in_call)
            .values_list("participant_id", "definition__week", "actual_date", "definition__name")
        ):
            if day is not None:
                done[pid].append((week, day, name))
        # Every visit already done is refused first: it is left out of the done visits the order is
        # checked against (it is in the call), so a later one checked before it would otherwise be
        # refused for a reason that is not true (its baseline "not yet recorded").
        for visit, _ in visits:
            if visit.status == Visit.Status.DONE:
                raise ValidationError(
                    f"{visit} is already done (on {visit.actual_date:%d %b %Y}): change its date on its form, "
                    "with a reason for the change."
                )
        for visit, actual_date in visits:
            _order_check(visit, actual_date, done[visit.participant_id])
            done[visit.participant_id].append((visit.definition.week, actual_date, visit.definition.name))
        baselines = {v.participant_id: d for v, d in visits if v.definition.week == 0}
        if baselines:
            moved = _baseline_moves(baselines, in_call)
            records_update(moved, by=user, reason="Due dates follow the actual baseline date")
        for visit, actual_date in visits:
            visit.status = Visit.Status.DONE
            visit.actual_date = actual_date
            visit.out_of_window = not (visit.window_start <= actual_date <= visit.window_end)
        return records_update([v for v, _ in visits], by=user, reason="Visit done")


def _baseline_moves(baselines: Mapping[int, date], in_call: Mapping[int, Visit]) -> list[Visit]:
    """The later visits, not yet done, whose due dates move to follow each participant's actual
    baseline date (`visits_reschedule_from`), changed in memory; the visits of the call are changed
    on the objects the caller holds."""
    moved = []
    later = (
        Visit.objects.active()
        .filter(participant_id__in=baselines, definition__week__gt=0, status=Visit.Status.SCHEDULED)
        .select_related("definition", "participant")
    )
    for stored in later:
        other = in_call.get(stored.pk, stored)
        due = baselines[other.participant_id] + timedelta(days=7 * other.definition.week)
        if due == other.scheduled_date:
            continue
        other.scheduled_date = due
        other.window_start = due - timedelta(days=other.definition.window_before_days)
        other.window_end = due + timedelta(days=other.definition.window_after_days)
        moved.append(other)
    return moved


def visit_form_save(*, visit: Visit, by: Actor, write: Callable[[], T], visit_date: date | None = None) -> T:
    """One form entered at a visit, from the web page or the API: the visit's date first when the
    form gives it (a visit not yet done), then the form's records (`write` calls their services),
    then the edit checks, all in one transaction (trial.core.services.form_entry_save)."""

    def run() -> T:
        if visit_date is not None:
            visit_complete(visit=visit, actual_date=visit_date, by=by)
        return write()

    return form_entry_save(participant=visit.participant, by=by, write=run)


def _in_order(visit: Visit, actual_date: date) -> None:
    """Visits are done in the order of the schedule (Schedule of assessments).

    Visits may be missing by design (week 3 and week 10 HAM-D were dropped for burden), so a later
    visit does not need every earlier one; but nothing follows a baseline that has not happened
    (Design: randomization and the first infusion are at week 0), and the dates of the done visits
    keep the order of their weeks. A visit entered out of order is refused with the reason, not
    accepted with a flag: the schedule's due dates, and the analysis' time axis, follow these dates.
    """
    # One read of the participant's other done visits (a handful), checked here, rather than a
    # query per rule on every visit saved.
    done = [
        (w, d, name)
        for w, d, name in Visit.objects.active()
        .filter(participant_id=visit.participant_id, status=Visit.Status.DONE)
        .exclude(pk=visit.pk)
        .values_list("definition__week", "actual_date", "definition__name")
        if d is not None
    ]
    _order_check(visit, actual_date, done)


def _order_check(visit: Visit, actual_date: date, done: Sequence[tuple[int, date, str]]) -> None:
    """`_in_order` given the participant's other done visits (week, date, name)."""
    week = visit.definition.week
    if week > 0 and not any(w == 0 for w, _, _ in done):
        raise ValidationError(
            {"actual_date": "Record the baseline (week 0) visit first: every later visit follows it (Design)."}
        )
    before = max(((d, name) for w, d, name in done if w < week and d > actual_date), default=None)
    if before is not None:
        raise ValidationError(
            {"actual_date": f"{before[1]} was on {before[0]:%d %b %Y}: {visit.definition.name} cannot be earlier."}
        )
    after = min(((d, name) for w, d, name in done if w > week and d < actual_date), default=None)
    if after is not None:
        raise ValidationError(
            {"actual_date": f"{after[1]} was on {after[0]:%d %b %Y}: {visit.definition.name} cannot be later."}
        )


class SoftCheckRefused(ValidationError):
    """A soft check the protocol file makes a refusal: nothing is saved; the form keeps what was typed."""

    def __init__(self, finding: SoftFinding) -> None:
        super().__init__(finding.message)
        self.finding = finding


def visit_miss(*, visit: Visit, reason: str, by: Actor, reason_code: str = "other", today: date | None = None) -> Visit:
    """Record a visit as missed, with a coded reason ([missed_visits]) and free text.

    [[soft_checks]] missed_before_window: a visit is missed only once its window has opened (before
    that it can still be done), unless the participant has left the study and it never will be.
    """
    by = require(by, Capability.ENTER_DATA)
    return record_save(visit, by=by, reason=_missed(visit, reason=reason, reason_code=reason_code, today=today))


def visits_miss(*, entries: Sequence[tuple[Visit, str, str]], by: Actor, today: date | None = None) -> list[Visit]:
    """Many visits missed at once, each (visit, reason, reason code) as `visit_miss` takes them: the same
    checks for each, then one audited change per distinct reason (trial.core.services.records_update),
    each visit with its own history row and reason. All or nothing."""
    user = require(by, Capability.ENTER_DATA)
    if not entries:
        return []
    if len({v.pk for v, _, _ in entries}) != len(entries):
        twice = next(v for v, _, _ in entries if sum(1 for w, _, _ in entries if w.pk == v.pk) > 1)
        raise ValidationError(f"The visit {twice} is given twice.")
    by_reason: dict[str, list[Visit]] = {}
    with reads_held():
        for visit, reason, reason_code in entries:
            by_reason.setdefault(_missed(visit, reason=reason, reason_code=reason_code, today=today), []).append(visit)
    with transaction.atomic():
        for why, visits in by_reason.items():
            records_update(visits, by=user, reason=why)
    return [v for v, _, _ in entries]


def _missed(visit: Visit, *, reason: str, reason_code: str, today: date | None) -> str:
    """Check that this visit may be recorded as missed, mark it so in memory, and say why for its audit."""
    if visit.status == Visit.Status.DONE:
        raise ValidationError(f"{visit} has data entered; it cannot be marked as missed.")
    finding = missed_before_window_finding(visit, today=today)
    check = soft_checks.check_of(soft_checks.MISSED_BEFORE_WINDOW, "refusal")
    if finding is not None and check is not None:
        raise SoftCheckRefused(finding)
    visit.status = Visit.Status.MISSED
    visit.reason_code = reason_code
    visit.reason = reason.strip()
    label = next((r.label for r in protocol().missed_visit_reasons if r.code == reason_code), reason_code)
    # "Other" is said by its text alone; a coded reason by its label, and the text beside it.
    why = visit.reason if reason_code == "other" else (f"{label}: {visit.reason}" if visit.reason else label)
    return f"Visit missed: {why}"


def missed_before_window_finding(visit: Visit, *, today: date | None = None) -> SoftFinding | None:
    check = soft_checks.check_of(soft_checks.MISSED_BEFORE_WINDOW)
    if check is None:
        return None
    timeline = visit.timeline
    if timeline is not None and timeline.ended_on is not None:
        return None  # the participant left the study: this visit will never be done
    message = soft_checks.missed_before_window(
        check,
        visit_name=visit.definition.name,
        window_start=visit.window_start,
        today=today or timezone.localdate(),
    )
    if message is None:
        return None
    return SoftFinding(check.code, check.kind, "reason_code", message, visit_id=visit.pk)


def soft_checks_fired_log(*, participant: Participant, findings: list[SoftFinding], by: Actor) -> int:
    """Record that soft-check warnings were shown, or a refusal made, to this user (Edit checks page).

    Called outside the transaction of a refused save, so the refusal is counted though nothing was saved.
    """
    user = require(by, Capability.VIEW_PARTICIPANTS)
    rows = [
        SoftCheckFiring(
            check_code=f.code,
            kind=SoftCheckFiring.Kind.REFUSAL if f.kind == "refusal" else SoftCheckFiring.Kind.WARNING,
            participant=participant,
            visit_id=f.visit_id,
            field=f.field,
            message=f.message,
            reveals_arm=f.reveals_arm,
            fired_by=user,
        )
        for f in findings
    ]
    SoftCheckFiring.objects.bulk_create(rows)
    return len(rows)


def _upsert(instance: R, data: Mapping[str, Any], *, by: User, reason: str, version: int | None) -> R:
    return record_save(record_apply(instance, data, version=version), by=by, reason=reason)


def _require_done(visit: Visit) -> None:
    if visit.status == Visit.Status.MISSED:
        raise ValidationError("This visit is recorded as missed; change its status before entering data.")
    # Protocol file [safety]: no assessment is recorded after the end of study. A visit not done by
    # then, and due after it, will never be done (visit_complete refuses its date), so nothing is
    # entered against it either; a visit due before the end may still be entered late.
    timeline = visit.timeline if visit.status != Visit.Status.DONE else None
    if timeline is not None and timeline.ended_on is not None and visit.scheduled_date > timeline.ended_on:
        raise ValidationError(
            f"This visit is after the participant's end of study ({timeline.ended_on:%d %b %Y}, "
            f"{timeline.ended_how}): no assessment is recorded after it."
        )


def hamd_record(
    *, visit: Visit, items: Mapping[int | str, int], by: Actor, reason: str = "", version: int | None = None
) -> HamD17:
    by = require(by, Capability.RATE)
    _require_done(visit)
    data = _hamd_items(items)
    instance = HamD17.objects.filter(visit=visit).first() or HamD17(visit=visit, rated_by=by)
    return _upsert(instance, data, by=by, reason=reason, version=version)


def cgis_record(*, visit: Visit, score: int, by: Actor, reason: str = "", version: int | None = None) -> CGIS:
    by = require(by, Capability.RATE)
    _require_done(visit)
    instance = CGIS.objects.filter(visit=visit).first() or CGIS(visit=visit, rated_by=by)
    return _upsert(instance, {"score": score}, by=by, reason=reason, version=version)


def lab_record(
    *,
    visit: Visit,
    analyte: str,
    sample_time: datetime,
    by: Actor,
    value: Decimal | float | None = None,
    replicate_1: Decimal | float | None = None,
    replicate_2: Decimal | float | None = None,
    assay_batch: str = "",
    reason: str = "",
    version: int | None = None,
) -> LabResult:
    # A post-baseline value of an analyte that reveals the arm is an unblinded role's to enter
    # (trial.blinding; ICH E6(R3) 4.2): blinded staff record the sample only (lab_sample_record).
    # The unblinded role that imports the laboratory's file may enter any result, baseline included.
    revealing = blinding.lab_reveals_arm(analyte, visit.definition.week)
    unblinded_entry = revealing or can(by, Capability.ENTER_REVEALING_LABS)
    by = require(by, Capability.ENTER_REVEALING_LABS if unblinded_entry else Capability.ENTER_DATA)
    _require_done(visit)
    instance = LabResult.objects.active().filter(visit=visit, analyte=analyte).first() or LabResult(
        visit=visit, analyte=analyte
    )
    data = _lab_data(sample_time, value, replicate_1, replicate_2, assay_batch)
    return _upsert(instance, data, by=by, reason=reason, version=version)


def _lab_data(
    sample_time: datetime,
    value: Decimal | float | None,
    replicate_1: Decimal | float | None,
    replicate_2: Decimal | float | None,
    assay_batch: str,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "sample_time": sample_time,
        "replicate_1": None if replicate_1 is None else Decimal(str(replicate_1)),
        "replicate_2": None if replicate_2 is None else Decimal(str(replicate_2)),
        "assay_batch": assay_batch,
    }
    if value is not None:
        data["value"] = Decimal(str(value))
    elif replicate_1 is not None and replicate_2 is not None:
        # Placeholder until clean() derives the mean of the duplicates.
        data["value"] = Decimal("0")
    return data


def lab_sample_record(
    *, visit: Visit, drawn_at: datetime, tube_id: str, by: Actor, reason: str = "", version: int | None = None
) -> LabSample:
    """The sample a blinded person records: when the blood was drawn and the tube's label."""
    by = require(by, Capability.ENTER_DATA)
    _require_done(visit)
    instance = LabSample.objects.active().filter(visit=visit).first() or LabSample(visit=visit)
    return _upsert(instance, {"drawn_at": drawn_at, "tube_id": tube_id.strip()}, by=by, reason=reason, version=version)


LAB_IMPORT_COLUMNS = ("participant_id", "visit", "tube_id", "analyte", "value", "replicate_1", "replicate_2")
LAB_IMPORT_REASON = "Imported from the laboratory's results file"


@transaction.atomic
def lab_results_import(*, csv_text: str, by: Actor, assay_batch: str = "") -> list[LabResult]:
    """The laboratory's results file, all or nothing. Each row names a sample the site recorded
    (participant, visit code, tube label); a tube that does not match is refused, so a result never
    lands on the wrong person. Every problem names its row (header = row 1)."""
    import csv
    import io

    user = require(by, Capability.ENTER_REVEALING_LABS)
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in ("participant_id", "visit", "tube_id", "analyte") if c not in header]
    if missing:
        raise ValidationError([f"row 1 (header): missing column(s) {', '.join(missing)}"])
    problems: list[str] = []
    saved: list[LabResult] = []
    analytes = [a.code for a in protocol().labs]
    for rownum, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        where = f"row {rownum}"
        visit = (
            Visit.objects.active()
            .select_related("definition")
            .filter(participant__participant_id=row["participant_id"], definition__code=row["visit"])
            .first()
        )
        if visit is None:
            problems.append(f"{where}: no visit {row['visit']} for participant {row['participant_id']}")
            continue
        if row["analyte"] not in analytes:
            problems.append(f"{where}: unknown analyte {row['analyte']!r} (expected one of {', '.join(analytes)})")
            continue
        sample = LabSample.objects.active().filter(visit=visit).first()
        if sample is None:
            problems.append(f"{where}: no sample is recorded at this visit")
            continue
        if sample.tube_id != row["tube_id"]:
            problems.append(f"{where}: tube {row['tube_id']} does not match the sample recorded at this visit")
            continue
        try:
            numbers = {k: Decimal(row[k]) if row.get(k) else None for k in ("value", "replicate_1", "replicate_2")}
        except ArithmeticError:
            problems.append(f"{where}: value, replicate_1 and replicate_2 must be numbers")
            continue
        current = LabResult.objects.active().filter(visit=visit, analyte=row["analyte"]).first()
        try:
            saved.append(
                lab_record(
                    visit=visit,
                    analyte=row["analyte"],
                    sample_time=sample.drawn_at,
                    by=user,
                    assay_batch=assay_batch,
                    reason=LAB_IMPORT_REASON if current is not None else "",
                    version=current.version if current is not None else None,
                    **numbers,
                )
            )
        except ValidationError as exc:
            problems += [f"{where}: {m}" for m in exc.messages]
    if problems:
        raise ValidationError(problems)
    # The edit checks run after an import as after any form's save; their queries on these values go
    # to the unblinded reviewer (trial.queries).
    for participant in {lab.visit.participant for lab in saved}:
        form_entry_save(participant=participant, by=user, write=lambda: None)
    return saved


def vitals_record(
    *, visit: Visit, data: Mapping[str, Any], by: Actor, reason: str = "", version: int | None = None
) -> VitalSigns:
    by = require(by, Capability.ENTER_DATA)
    _require_done(visit)
    instance = VitalSigns.objects.filter(visit=visit).first() or VitalSigns(visit=visit)
    return _upsert(instance, data, by=by, reason=reason, version=version)


@dataclass(frozen=True)
class LabEntry:
    """One laboratory result for `lab_results_create`: the arguments of `lab_record` for one analyte."""

    visit: Visit
    analyte: str
    sample_time: datetime
    value: Decimal | float | None = None
    replicate_1: Decimal | float | None = None
    replicate_2: Decimal | float | None = None
    assay_batch: str = ""


# Entering many visits' forms at once: a casebook transcribed from paper, data carried over from
# another system, a synthetic trial. Each record passes the checks its one-at-a-time service makes
# (who may enter it, a visit that was done, the record's own validation, the closeout guards), and
# all are written with one insert per form (trial.core.services.records_create), all or nothing.
# They create; a record already entered is changed on its form, with a reason for the change.


def hamd_records_create(*, ratings: Sequence[tuple[Visit, Mapping[int | str, int]]], by: Actor) -> list[HamD17]:
    """HAM-D-17 ratings at many visits (`hamd_record` for each)."""
    user = require(by, Capability.RATE)
    rows = [HamD17(visit=visit, rated_by=user, **_hamd_items(items)) for visit, items in ratings]
    return _visit_forms_create(rows, by=user, label="HAM-D-17", same=("visit_id",))


def cgis_records_create(*, scores: Sequence[tuple[Visit, int]], by: Actor) -> list[CGIS]:
    """CGI-S scores at many visits (`cgis_record` for each)."""
    user = require(by, Capability.RATE)
    return _visit_forms_create(
        [CGIS(visit=visit, rated_by=user, score=score) for visit, score in scores],
        by=user,
        label="CGI-S",
        same=("visit_id",),
    )


def vitals_records_create(*, entries: Sequence[tuple[Visit, Mapping[str, Any]]], by: Actor) -> list[VitalSigns]:
    """Vital signs at many visits (`vitals_record` for each)."""
    user = require(by, Capability.ENTER_DATA)
    rows = [VitalSigns(visit=visit, **data) for visit, data in entries]
    return _visit_forms_create(rows, by=user, label="Vital signs", same=("visit_id",))


def lab_samples_create(*, samples: Sequence[tuple[Visit, datetime, str]], by: Actor) -> list[LabSample]:
    """The blood samples drawn at many visits (`lab_sample_record` for each)."""
    user = require(by, Capability.ENTER_DATA)
    rows = [LabSample(visit=visit, drawn_at=drawn_at, tube_id=tube_id.strip()) for visit, drawn_at, tube_id in samples]
    return _visit_forms_create(rows, by=user, label="Lab sample", same=("visit_id",), live_only=True)


def lab_results_create(*, results: Sequence[LabEntry], by: Actor) -> list[LabResult]:
    """Laboratory results at many visits (`lab_record` for each). As there, a post-baseline value of an
    analyte that reveals the arm is an unblinded role's to enter (trial.blinding; ICH E6(R3) 4.2): one
    such value among them makes the whole entry an unblinded one."""
    revealing = any(blinding.lab_reveals_arm(e.analyte, e.visit.definition.week) for e in results)
    unblinded_entry = revealing or can(by, Capability.ENTER_REVEALING_LABS)
    user = require(by, Capability.ENTER_REVEALING_LABS if unblinded_entry else Capability.ENTER_DATA)
    rows = [
        LabResult(
            visit=e.visit,
            analyte=e.analyte,
            **_lab_data(e.sample_time, e.value, e.replicate_1, e.replicate_2, e.assay_batch),
        )
        for e in results
    ]
    return _visit_forms_create(rows, by=user, label="Lab result", same=("visit_id", "analyte"), live_only=True)


def infusions_create(*, entries: Sequence[tuple[Visit, Mapping[str, Any]]], by: Actor) -> list[Infusion]:
    """Infusions given at many visits (`infusion_record` for each, each new): an infusion visit of a
    participant on study, one per visit, not at a missed visit. As there, an infusion delayed for
    infection moves the later visits not yet done to keep their spacing (visits_reschedule_from)."""
    user = require(by, Capability.ENTER_DATA)
    with transaction.atomic():
        # The participants' statuses as they are now, locked for the transaction: the visits the caller
        # holds may have been read before an end of study was recorded.
        statuses = dict(
            Participant.objects.select_for_update()
            .filter(pk__in={visit.participant_id for visit, _ in entries})
            .values_list("pk", "status")
        )
        for visit, _ in entries:
            if not visit.definition.infusion:
                raise ValidationError(f"No infusion is given at {visit.definition.name} (Schedule).")
            if statuses.get(visit.participant_id) != Participant.Status.RANDOMIZED:
                raise ValidationError(
                    f"{visit}: infusions are recorded only for randomized participants who have not left the study."
                )
        created = _visit_forms_create(
            [Infusion(visit=visit, **data) for visit, data in entries], by=user, label="Infusion", same=("visit_id",)
        )
        for infusion in created:
            if infusion.delay_days:
                visits_reschedule_from(
                    visit=infusion.visit,
                    anchor=infusion.visit.scheduled_date + timedelta(days=infusion.delay_days),
                    by=user,
                    reason=f"Infusion delayed {infusion.delay_days} days: {infusion.delay_reason}",
                )
    return created


def _hamd_items(items: Mapping[int | str, int]) -> dict[str, int]:
    return {(str(k) if str(k).startswith("item_") else f"item_{k}"): v for k, v in items.items()}


def _visit_forms_create(
    rows: Sequence[R], *, by: User, label: str, same: tuple[str, ...], live_only: bool = False
) -> list[R]:
    """New records of one visit form, checked as their one-at-a-time services check them, then
    written together. `same` names what one record of the form is per (the visit; the visit and
    analyte); `live_only` when a voided record leaves room for a new one."""
    try:
        return _visit_forms_insert(rows, by=by, label=label, same=same, live_only=live_only)
    except IntegrityError as exc:
        # Someone entered one of these forms between the check below and the insert: the database's
        # unique constraint refused the batch (rolled back whole), said as the check would say it.
        raise ValidationError(
            f"{label} was entered at one of these visits by someone else a moment ago: nothing was saved. "
            "Reload to see it, and change it on its form if needed."
        ) from exc


@transaction.atomic
def _visit_forms_insert(rows: Sequence[R], *, by: User, label: str, same: tuple[str, ...], live_only: bool) -> list[R]:
    if not rows:
        return []
    model = type(rows[0])
    seen: dict[tuple[Any, ...], R] = {}
    for row in rows:
        _require_done(row.visit)  # type: ignore[attr-defined]  # every visit form has a visit
        key = tuple(getattr(row, f) for f in same)
        if key in seen:
            raise ValidationError(f"{_form_at(label, row, key)} is given twice.")
        seen[key] = row
    visit_ids = {row.visit_id for row in rows}  # type: ignore[attr-defined]  # every visit form has a visit
    existing = model._default_manager.filter(visit_id__in=visit_ids)  # type: ignore[misc]  # as above
    if live_only:
        existing = existing.filter(voided_at__isnull=True)
    for *key_values, voided_at in existing.values_list(*same, "voided_at"):
        key = tuple(key_values)
        if key not in seen:
            continue
        if voided_at is not None:
            # One per visit, voided or not (as the form's own service says of it).
            raise ValidationError(
                f"{_form_at(label, seen[key], key)} was voided: it can no longer be entered or changed."
            )
        raise ValidationError(
            f"{_form_at(label, seen[key], key)} is already entered: "
            "change it on its form, with a reason for the change."
        )
    return records_create(rows, by=by)


def _form_at(label: str, row: ClinicalRecord, key: tuple[Any, ...]) -> str:
    return f"{' '.join([label, *map(str, key[1:])])} at {row.visit}"  # type: ignore[attr-defined]  # every visit form has a visit


@transaction.atomic
def infusion_record(
    *, visit: Visit, data: Mapping[str, Any], by: Actor, reason: str = "", version: int | None = None
) -> Infusion:
    by = require(by, Capability.ENTER_DATA)
    if not visit.definition.infusion:
        raise ValidationError(f"No infusion is given at {visit.definition.name} (Schedule).")
    # The participant's status as it is now, locked for the transaction: the visit the caller holds
    # may have been read before an end of study was recorded.
    status = Participant.objects.select_for_update().values_list("status", flat=True).get(pk=visit.participant_id)
    if status != Participant.Status.RANDOMIZED:
        raise ValidationError("Infusions are recorded only for randomized participants who have not left the study.")
    instance = Infusion.objects.filter(visit=visit).first() or Infusion(visit=visit)
    was_delay = instance.delay_days
    infusion = _upsert(instance, data, by=by, reason=reason, version=version)
    if infusion.delay_days and infusion.delay_days != was_delay:
        anchor = visit.scheduled_date + timedelta(days=infusion.delay_days)
        visits_reschedule_from(
            visit=visit,
            anchor=anchor,
            by=by,
            reason=f"Infusion delayed {infusion.delay_days} days: {infusion.delay_reason}",
        )
    return infusion
