"""Writes for participants: screening, consent, end of study. Each goes through record_save."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models.functions import Length

from trial.access import Capability, require
from trial.core.batches import in_batches
from trial.core.services import record_save, records_create, records_update
from trial.core.types import Actor
from trial.participants import eligibility
from trial.participants.models import Consent, EndOfStudy, NumberSeries, Participant, Screening
from trial.participants.scope import participant_require, site_require
from trial.protocol.models import Site
from trial.protocol.selectors import protocol

SCREENING_MEASURES = (
    "screening_date",
    "screening_crp_mg_l",
    "qids_sr",
    "mmse",
    "mgh_s",
    "hamd_item3",
    "bipolar",
    "on_antidepressant",
    "episode_duration_months",
    "height_cm",
    "weight_kg",
)


def attested_criteria() -> tuple[str, ...]:
    cfg = protocol()
    return tuple(c.code for c in cfg.inclusion + cfg.exclusion if not c.computed)


def _entered(data: Mapping[str, Any]) -> dict[str, Any]:
    """What screening takes from a form's data: the measures and the criteria attested by the site.
    Computed criteria are left out: eligibility derives them from the data."""
    names = set(SCREENING_MEASURES + attested_criteria())
    return {k: v for k, v in data.items() if k in names}


def _screening_outcome(eligible: bool) -> tuple[str, str]:
    """The status a screening leaves, and the reason its history row gives."""
    if eligible:
        return Participant.Status.ELIGIBLE, "Screening completed: eligible"
    return Participant.Status.SCREEN_FAILED, "Screening completed: screen failure"


def _status_at_end(outcome: str) -> str:
    return Participant.Status.COMPLETED if outcome == EndOfStudy.Outcome.COMPLETED else Participant.Status.WITHDRAWN


def _first_repeated(values: Sequence[Any]) -> Any | None:
    return next((v for v, count in Counter(values).items() if count > 1), None)


def _highest_in_use(prefix: str, field: str) -> int:
    # Longest first, then highest: as text "01-9999" sorts after "01-10000", so text order alone
    # would hand out 01-10000 twice once a trial passes 9,999 participants.
    last = (
        Participant.objects.filter(**{f"{field}__startswith": prefix})
        .order_by(Length(field).desc(), f"-{field}")
        .values_list(field, flat=True)
        .first()
    )
    try:
        return int(last[len(prefix) :]) if last else 0
    except ValueError:
        return 0


def _next_number(prefix: str, field: str, width: int = 4) -> str:
    """The next number of a series, taken under a row lock on the series' counter.

    Called inside the creating transaction. Two screenings at once would otherwise both read the
    same highest number and collide on the unique constraint; the lock makes the second wait for
    the first to commit, as randomization does with the stratum cursor.
    """
    return _next_numbers(prefix, field, 1, width)[0]


def _next_numbers(prefix: str, field: str, count: int, width: int = 4) -> list[str]:
    """The next `count` numbers of a series, in order, under one lock of its counter (`_next_number`)."""
    series = _series_locked(prefix, field)
    candidates = [f"{prefix}{series.last + i:0{width}d}" for i in range(1, count + 1)]
    # The counter is the series; the numbers in use are read (a scan of the prefix, which grows with
    # the trial) only for a new counter, or when one of the next numbers is taken already (a
    # participant written with its number outside screening).
    if series.last == 0 or any(
        Participant.objects.filter(**{f"{field}__in": batch}).exists() for batch in in_batches(candidates)
    ):
        series.last = max(series.last, _highest_in_use(prefix, field))
        candidates = [f"{prefix}{series.last + i:0{width}d}" for i in range(1, count + 1)]
    series.last += count
    series.save(update_fields=["last"])
    return candidates


def _series_locked(prefix: str, field: str) -> NumberSeries:
    key = f"{field}:{prefix}"
    # Create the counter if it is missing; a concurrent creator makes this a no-op, never an error.
    # Written out (SQLite and PostgreSQL both take ON CONFLICT DO NOTHING): asked twice per screening,
    # where building the ORM's bulk insert cost more than running it.
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {qn(NumberSeries._meta.db_table)} ({qn('key')}, {qn('last')}) VALUES (%s, 0) "  # noqa: S608  (the model's table; the key is a parameter)
            f"ON CONFLICT ({qn('key')}) DO NOTHING",
            [key],
        )
    return NumberSeries.objects.select_for_update().get(key=key)


def _number_given(prefix: str, field: str, number: str) -> None:
    """A number given explicitly (an imported screening log) moves its series on, so the next number
    handed out follows it."""
    tail = number[len(prefix) :] if number.startswith(prefix) else ""
    if not tail.isdigit():
        return
    series = _series_locked(prefix, field)
    if series.last == 0:
        series.last = _highest_in_use(prefix, field)
    if int(tail) > series.last:
        series.last = int(tail)
        series.save(update_fields=["last"])


def _apply_eligibility(screening: Screening, date_of_birth: date) -> None:
    values: dict[str, Any] = {name: getattr(screening, name) for name in SCREENING_MEASURES + attested_criteria()}
    values["date_of_birth"] = date_of_birth
    result = eligibility.evaluate(values, protocol())
    for code, value in result.computed.items():
        setattr(screening, code, value)
    screening.eligible = result.eligible
    screening.failed_criteria = list(result.failed) + [f"{m} (not answered)" for m in result.missing]


@transaction.atomic
def participant_screen(
    *,
    site: Site,
    sex: str,
    date_of_birth: date,
    screening: Mapping[str, Any],
    by: Actor,
    screening_number: str | None = None,
) -> Participant:
    """Register a screened person and their screening record; eligibility follows from the data.

    An ineligible person is recorded as a screen failure with the failed criteria (CONSORT flow).
    """
    by = require(by, Capability.ENTER_DATA)
    site_require(by, site)
    if screening_number:
        _number_given("S", "screening_number", screening_number)
    participant = Participant(
        screening_number=screening_number or _next_number("S", "screening_number"),
        participant_id=_next_number(f"{site.code}-", "participant_id"),
        site=site,
        sex=sex,
        date_of_birth=date_of_birth,
    )
    record_save(participant, by=by)
    scr = Screening(participant=participant, **_entered(screening))
    _apply_eligibility(scr, date_of_birth)
    record_save(scr, by=by)
    participant.status, reason = _screening_outcome(bool(scr.eligible))
    # Written in this transaction, which fails as a whole if this fails: locked (see record_save).
    record_save(participant, by=by, reason=reason, locked=True)
    return participant


@dataclass(frozen=True)
class ScreeningEntry:
    """One person's screening, as `participant_screen` takes it."""

    site: Site
    sex: str
    date_of_birth: date
    screening: Mapping[str, Any]
    screening_number: str | None = None


def participants_screen(*, entries: Sequence[ScreeningEntry], by: Actor) -> list[Participant]:
    """Many people screened at once (`participant_screen` for each), in the order given: a screening
    log carried over from another system, a synthetic trial. All or nothing.

    The same checks and the same audit trail as one at a time: the role and each site's reach; each
    person and screening validated; eligibility from the data; the participant created ("Initial
    entry"), then its status set with the same reason ("Screening completed: eligible" or "... screen
    failure"). Numbers given explicitly must be new and given once; they move their series on before
    the others are handed out, each series under one lock of its counter.
    """
    user = require(by, Capability.ENTER_DATA)
    entries = list(entries)
    if not entries:
        return []
    for site in {e.site.pk: e.site for e in entries}.values():
        site_require(user, site)
    given = [e.screening_number for e in entries if e.screening_number]
    twice = _first_repeated(given)
    if twice is not None:
        raise ValidationError(f"The screening number {twice} is given twice. Nothing was saved.")
    with transaction.atomic():
        # Under the series' lock, so a screening given the same number at the same moment is seen.
        in_series = [n for n in given if n.startswith("S") and n[1:].isdigit()]
        if in_series:
            _number_given("S", "screening_number", max(in_series, key=lambda n: int(n[1:])))
        for batch in in_batches(given):
            taken = Participant.objects.filter(screening_number__in=batch).values_list("screening_number", flat=True)
            if clash := taken.first():
                raise ValidationError(f"The screening number {clash} is in use already. Nothing was saved.")
        numbers = iter(_next_numbers("S", "screening_number", len(entries) - len(given)))
        by_site: dict[int, list[ScreeningEntry]] = {}
        for e in entries:
            by_site.setdefault(e.site.pk, []).append(e)
        # Each series is locked in one order (screening numbers first, then the sites by code, as one
        # screening takes them), so two calls at once queue instead of deadlocking.
        ids = {
            pk: iter(_next_numbers(f"{site_entries[0].site.code}-", "participant_id", len(site_entries)))
            for pk, site_entries in sorted(by_site.items(), key=lambda item: item[1][0].site.code)
        }
        participants = records_create(
            [
                Participant(
                    screening_number=e.screening_number or next(numbers),
                    participant_id=next(ids[e.site.pk]),
                    site=e.site,
                    sex=e.sex,
                    date_of_birth=e.date_of_birth,
                )
                for e in entries
            ],
            by=user,
        )
        screenings = []
        for participant, e in zip(participants, entries, strict=True):
            scr = Screening(participant=participant, **_entered(e.screening))
            _apply_eligibility(scr, e.date_of_birth)
            screenings.append(scr)
        records_create(screenings, by=user)
        for eligible in (True, False):
            outcome = [p for p, scr in zip(participants, screenings, strict=True) if bool(scr.eligible) is eligible]
            status, reason = _screening_outcome(eligible)
            for p in outcome:
                p.status = status
            records_update(outcome, by=user, reason=reason)
    return participants


@transaction.atomic
def screening_update(*, screening: Screening, data: Mapping[str, Any], by: Actor, reason: str) -> Screening:
    by = require(by, Capability.ENTER_DATA)
    participant = screening.participant
    participant_require(by, participant)
    if participant.status not in (
        Participant.Status.SCREENING,
        Participant.Status.ELIGIBLE,
        Participant.Status.SCREEN_FAILED,
    ):
        raise ValidationError("Screening data cannot change after randomization; raise a query instead.")
    for key, value in _entered(data).items():
        setattr(screening, key, value)
    _apply_eligibility(screening, participant.date_of_birth)
    record_save(screening, by=by, reason=reason)
    new_status = Participant.Status.ELIGIBLE if screening.eligible else Participant.Status.SCREEN_FAILED
    if participant.status != new_status:
        participant.status = new_status
        record_save(participant, by=by, reason=f"Eligibility re-evaluated: {reason}")
    return screening


def consent_record(
    *,
    participant: Participant,
    consent_date: date,
    by: Actor,
    version: str | None = None,
    participant_signed: bool = True,
    copy_given: bool = True,
) -> Consent:
    by = require(by, Capability.ENTER_DATA)
    participant_require(by, participant)
    if participant.status == Participant.Status.SCREEN_FAILED:
        raise ValidationError("This person failed screening; consent for the trial is not recorded.")
    if participant.status in (Participant.Status.WITHDRAWN, Participant.Status.COMPLETED):
        raise ValidationError(
            f"This participant's study has ended ({participant.get_status_display().lower()}); consent is not recorded."
        )
    consent = Consent(
        participant=participant,
        form_version=version or protocol().consent_version,
        consent_date=consent_date,
        taken_by=by,
        participant_signed=participant_signed,
        copy_given=copy_given,
    )
    return record_save(consent, by=by)


@transaction.atomic
def end_of_study_record(
    *, participant: Participant, outcome: str, end_date: date, reason: str, by: Actor, details: str = ""
) -> EndOfStudy:
    by = require(by, Capability.ENTER_DATA)
    participant_require(by, participant)
    # Lock the participant: the same end of study submitted twice at once must end the study once;
    # the second waits, then sees the participant has already ended it.
    given, participant = participant, Participant.objects.select_for_update().get(pk=participant.pk)
    # Asked again of the stored row: the caller's copy could name another site than the record's.
    participant_require(by, participant)
    if EndOfStudy.objects.filter(participant=participant).exists():
        raise ValidationError("The end of study is already recorded for this participant.")
    if participant.status not in (Participant.Status.RANDOMIZED,):
        raise ValidationError(
            f"Only a randomized participant can end the study (status: {participant.get_status_display()})."
        )
    eos = EndOfStudy(participant=participant, outcome=outcome, end_date=end_date, reason=reason, details=details)
    record_save(eos, by=by)
    participant.status = _status_at_end(outcome)
    # Read under its row lock above, in this transaction, which fails as a whole if this fails.
    record_save(participant, by=by, reason=f"End of study: {reason}", locked=True)
    # The caller's copy follows, so it can be saved again without a false conflict.
    given.status, given.version, given.updated_at = participant.status, participant.version, participant.updated_at
    return eos


@dataclass(frozen=True)
class EndOfStudyEntry:
    """One participant's end of study, as `end_of_study_record` takes it."""

    participant: Participant
    outcome: str
    end_date: date
    reason: str
    details: str = ""


def ends_of_study_record(*, entries: Sequence[EndOfStudyEntry], by: Actor) -> list[EndOfStudy]:
    """Many participants' ends of study at once (`end_of_study_record` for each): a casebook
    transcribed after the fact, a synthetic trial. All or nothing.

    The same checks and audit trail as one at a time: the role and each participant's reach; the
    participants read under lock, each randomized and without an end of study; each record validated;
    then the status set (completed or withdrawn) with the reason "End of study: ...".
    """
    user = require(by, Capability.ENTER_DATA)
    entries = list(entries)
    if not entries:
        return []
    for e in entries:
        participant_require(user, e.participant)
    pks = [e.participant.pk for e in entries]
    twice = _first_repeated(pks)
    if twice is not None:
        given = next(e.participant for e in entries if e.participant.pk == twice)
        raise ValidationError(f"The end of study of {given} is given twice. Nothing was saved.")
    with transaction.atomic():
        # Locked, as one at a time: an end of study submitted at the same moment waits, then is seen.
        locked = Participant.objects.select_for_update().in_bulk(pks)
        for participant in locked.values():
            # Asked again of the stored rows: a caller's copy could name another site than the record's.
            participant_require(user, participant)
        ended: set[int] = set()
        for batch in in_batches(pks):
            ended |= set(EndOfStudy.objects.filter(participant_id__in=batch).values_list("participant_id", flat=True))
        for e in entries:
            participant = locked[e.participant.pk]
            if participant.pk in ended:
                raise ValidationError(f"The end of study is already recorded for {participant}. Nothing was saved.")
            if participant.status != Participant.Status.RANDOMIZED:
                raise ValidationError(
                    f"Only a randomized participant can end the study ({participant}: "
                    f"{participant.get_status_display()}). Nothing was saved."
                )
        records = records_create(
            [
                EndOfStudy(
                    participant=locked[e.participant.pk],
                    outcome=e.outcome,
                    end_date=e.end_date,
                    reason=e.reason,
                    details=e.details,
                )
                for e in entries
            ],
            by=user,
        )
        # One change per reason: the reason is each history row's own (21 CFR 11.10(e)).
        by_reason: dict[str, list[Participant]] = {}
        for e in entries:
            participant = locked[e.participant.pk]
            participant.status = _status_at_end(e.outcome)
            by_reason.setdefault(e.reason, []).append(participant)
        for reason, participants in by_reason.items():
            records_update(participants, by=user, reason=f"End of study: {reason}")
        # The callers' copies follow, so they can be saved again without a false conflict.
        for e in entries:
            saved = locked[e.participant.pk]
            e.participant.status, e.participant.version = saved.status, saved.version
            e.participant.updated_at = saved.updated_at
    return records
