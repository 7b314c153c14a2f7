"""Write a synthetic trial through the same services the forms use, so validation and audit apply.

The generator (trial.demo.generator, Django-free) decides what happens; this module only feeds it
to the services in the order a site would: screen, consent, randomize, then each visit as it comes.
"""

from __future__ import annotations

import math
import string
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from trial import blinding
from trial.accounts.users import DEMO_PASSWORD, SECOND_PHARMACIST, demo_site_users_ensure, demo_users_ensure
from trial.core.audit_chain import audit_seals_deferred
from trial.core.roles import Role
from trial.demo.generator import SyntheticCourse, SyntheticParticipant, generate_course
from trial.demo.population import stratum
from trial.demo.records import SyntheticVisit
from trial.demo.simulated_trial import finished_population, population_with_enrolled, recruitment_end
from trial.participants.models import Participant
from trial.participants.services import (
    EndOfStudyEntry,
    ScreeningEntry,
    consent_record,
    ends_of_study_record,
    participants_screen,
)
from trial.pharmacy.services import (
    BagOrder,
    drug_lot_receive,
    preparations_create,
    preparations_dispense,
    second_check_sign,
)
from trial.protocol.config import ProtocolConfig
from trial.protocol.selectors import protocol
from trial.protocol.services import protocol_load
from trial.queries.services import edit_checks_run
from trial.randomization.services import randomization_list_create
from trial.safety.models import AdverseEvent
from trial.safety.services import adverse_events_create, conmed_record
from trial.visits import services as visit_services
from trial.visits.models import Visit

# People entered per transaction (see demo_trial_seed).
SEED_BATCH = 20


class AlreadySeededError(Exception):
    pass


@dataclass
class SeedReport:
    screened: int = 0
    screen_failed: int = 0
    awaiting_randomization: int = 0
    randomized: int = 0
    completed: int = 0
    withdrawn: int = 0
    in_follow_up: int = 0
    visits_done: int = 0
    visits_missed: int = 0
    adverse_events: int = 0
    by_stratum: Counter[str] = field(default_factory=Counter)


_RELATEDNESS = {"not related": "not_related"}
_ACTION = {
    "none": "none",
    "concomitant medication": "treated",
    "dose delayed": "infusion_delayed",
    "study drug withdrawn": "drug_withdrawn",
}
_OUTCOME = {"not recovered": "not_recovered"}


def _at(d: date, t: time) -> datetime:
    return datetime.combine(d, t, tzinfo=UTC)


def _site_of(sp: SyntheticParticipant, sites: list[Any]) -> Any:
    """Participants are spread over the protocol's sites in screening order (a multi-site trial
    recruits at every site at once)."""
    return sites[sp.index % len(sites)]


def _list_length(population: list[SyntheticParticipant], config: ProtocolConfig, sites: list[Any]) -> int:
    """Entries per stratum: enough whole blocks for the largest stratum, plus one spare block."""
    strata: Counter[str] = Counter(
        stratum(p, config, site_code=_site_of(p, sites).code) for p in population if p.stage == "enrolled"
    )
    block = math.lcm(*config.block_sizes)
    largest = max(strata.values(), default=0)
    return (math.ceil(largest / block) + 1) * block


def demo_trial_seed(
    *,
    participants: int,
    seed: int,
    today: date | None = None,
    finished: bool = False,
    progress: Callable[[int, int, SeedReport], None] | None = None,
    progress_every: int = 10,
) -> SeedReport:
    """Seed a trial mid-way on `today`; with `finished`, recruitment ended long enough before `today`
    for every randomized participant's 12 weeks to be over (Schedule of assessments), and people whose
    screening or baseline would fall after it are never entered (recruitment closed)."""
    if Participant.objects.exists():
        raise AlreadySeededError(
            f"The database already holds {Participant.objects.count()} participants; "
            "seed_demo only seeds an empty trial. Nothing was written. "
            "To start again, remove db.sqlite3 (make clean) and run make demo."
        )
    today = today or date.today()
    config = protocol()
    protocol_load(config=config)
    users = demo_users_ensure()
    demo_site_users_ensure()
    coordinator, rater, unblinded = users[Role.COORDINATOR], users[Role.RATER], users[Role.STATISTICIAN_UNBLINDED]
    sites = list(protocol_load(config=config).sites.order_by("code"))

    # The same selection the in-memory trial makes (trial.demo.simulated_trial), so the calibration
    # measured there is the demo's.
    closes = recruitment_end(today, config) if finished else today
    population = population_with_enrolled(participants, seed=seed, today=closes, config=config)
    if finished:
        population = finished_population(population)
    # The list is drawn from the operating system's randomness like any list: `seed` shapes the synthetic
    # people and their courses, never the allocation, or anyone who knows the demo's seed replays every arm.
    randomization_list_create(by=unblinded, per_stratum=_list_length(population, config, sites))
    pharmacist = users[Role.PHARMACIST]
    # The second pharmacist signs the checks of the demo's bags (21 CFR 11.200(a)); one signing serves
    # the whole seeding run, so it costs one password hash, not one per bag.
    second_check = second_check_sign(by=pharmacist, username=SECOND_PHARMACIST, password=DEMO_PASSWORD)
    # Enough infliximab for every infusion of an all-active trial at 120 kg at the highest dose, plus spare,
    # in as many lots as the lot form allows (a large trial is supplied in several lots).
    highest = config.dose_matched_arm
    vials_at_120_kg = math.ceil(highest.dose_mg_per_kg * 120 / highest.vial_mg)
    per_person = len(config.infusion_weeks) * vials_at_120_kg
    lot_count = math.ceil((len(population) * per_person + 50) / (int(config.measure("vials").max) - 50))
    people_per_lot = math.ceil(len(population) / lot_count)
    lots = [
        drug_lot_receive(
            by=pharmacist,
            lot_number=f"IFX-{seed}-{string.ascii_uppercase[i] if i < 26 else i + 1}",
            expiry_date=today + timedelta(days=730),
            vials_received=people_per_lot * per_person + 50,
            received_on=min(p.screening_date for p in population),
            supplier="Demo supplier",
        )
        for i in range(lot_count)
    ]
    report = SeedReport()
    # One transaction per batch of people: a failure leaves no half-entered person (the batch is
    # rolled back whole), and the database commits, and seals the batch's audit rows into the chain,
    # once per batch instead of once per record: the rows are read back and sealed in one pass at the
    # end of the batch (the same seals, in the same order, as sealing each row when written), so the
    # chain lock is taken once per batch.
    first = 0
    while first < len(population):
        # A batch also ends where a progress line is due, so each line is printed after its commit.
        end = min((first // SEED_BATCH + 1) * SEED_BATCH, (first // progress_every + 1) * progress_every)
        batch = population[first:end]
        with transaction.atomic(), audit_seals_deferred():
            screened = _screen_batch(batch, report=report, sites=sites, coordinator=coordinator)
            enrolled = [
                course
                for number, (sp, participant) in enumerate(zip(batch, screened, strict=True), start=first)
                if (
                    course := _enrol_one(
                        sp,
                        participant,
                        report=report,
                        coordinator=coordinator,
                        unblinded=unblinded,
                        lot=lots[number // people_per_lot],
                        seed=seed,
                        today=today,
                        config=config,
                    )
                )
                is not None
            ]
            _seed_courses(
                enrolled,
                report=report,
                coordinator=coordinator,
                rater=rater,
                pharmacist=pharmacist,
                second_check=second_check,
                unblinded=unblinded,
                aspirin_mg=config.aspirin_allowed_mg,
            )
        first = done = first + len(batch)
        # A large seeding takes minutes: say how far it got (after the commit, so it is true).
        if progress is not None and (done % progress_every == 0 or done == len(population)):
            progress(done, len(population), report)
    return report


@dataclass
class _Enrolled:
    """A participant randomized in this batch, with the course the generator gave them."""

    participant: Participant
    course: SyntheticCourse
    lot: Any
    index: int
    visits: dict[int, Any] = field(default_factory=dict)  # week -> Visit, as last saved


def _screen_batch(
    batch: list[SyntheticParticipant], *, report: SeedReport, sites: list[Any], coordinator: Any
) -> list[Participant]:
    """Screen a batch's people together (`participants_screen`: each one's checks and audit trail, as
    one at a time), at the sites they were spread over."""
    people = participants_screen(
        entries=[
            ScreeningEntry(
                site=_site_of(sp, sites),
                sex=sp.sex,
                date_of_birth=sp.date_of_birth,
                screening=_screening_data(sp),
                screening_number=sp.screening_number,
            )
            for sp in batch
        ],
        by=coordinator,
    )
    report.screened += len(people)
    return people


def _screening_data(sp: SyntheticParticipant) -> dict[str, Any]:
    return {
        "screening_date": sp.screening_date,
        "screening_crp_mg_l": round(sp.screening_crp_mg_l, 2),
        "qids_sr": sp.qids_sr,
        "mmse": sp.mmse,
        "mgh_s": round(sp.mgh_s, 1),
        "hamd_item3": sp.hamd_item3,
        "bipolar": sp.bipolar,
        "on_antidepressant": sp.on_antidepressant,
        "episode_duration_months": sp.episode_duration_months,
        "height_cm": round(sp.height_cm, 1),
        "weight_kg": round(sp.weight_kg, 1),
    } | dict(sp.criteria.items())


def _enrol_one(
    sp: SyntheticParticipant,
    participant: Participant,
    *,
    report: SeedReport,
    coordinator: Any,
    unblinded: Any,
    lot: Any,
    seed: int,
    today: date,
    config: ProtocolConfig,
) -> _Enrolled | None:
    """Consent and randomize one screened person; their course, when randomized, is entered with the
    batch's (`_seed_courses`)."""
    from trial.workspace.services import participant_enrol

    if participant.status == Participant.Status.SCREEN_FAILED:
        report.screen_failed += 1
        return None
    if sp.stage != "enrolled" or sp.consent_date is None:
        report.awaiting_randomization += 1
        return None
    consent_record(participant=participant, consent_date=sp.consent_date, by=coordinator)
    if sp.baseline_date is None:
        report.awaiting_randomization += 1
        return None
    # Randomized on the morning of the baseline visit, as at a site, not on the day the demo is seeded:
    # a randomization dated after the participant's end of study would be an impossible record.
    result = participant_enrol(
        participant=participant,
        by=coordinator,
        baseline_date=sp.baseline_date,
        randomized_at=min(_at(sp.baseline_date, time(8, 30)), timezone.now()),
    )
    participant.refresh_from_db()
    report.randomized += 1
    report.by_stratum[result.allocation.stratum] += 1
    # The seeding process acts as the unblinded statistician to learn the arm: the course the
    # generator simulates depends on it (infliximab lowers CRP; benefit depends on CRP).
    arm = blinding.arm_code(unblinded, participant)
    assert arm is not None  # just randomized, and the unblinded statistician may see the arm
    course = generate_course(sp, arm=arm, seed=seed, today=today, protocol=config)
    return _Enrolled(participant=participant, course=course, lot=lot, index=sp.index)


def _segments(course: SyntheticCourse) -> list[list[SyntheticVisit]]:
    """The course's visits, cut after each visit whose infusion was delayed: the delay moves the later
    visits' due dates (visits_reschedule_from), so those are done only after it is recorded."""
    segments: list[list[SyntheticVisit]] = [[]]
    for sv in course.visits:
        segments[-1].append(sv)
        if sv.status != "missed" and sv.infusion is not None and sv.infusion.delayed_days > 0:
            segments.append([])
    return [seg for seg in segments if seg]


def _seed_courses(
    enrolled: list[_Enrolled],
    *,
    report: SeedReport,
    coordinator: Any,
    rater: Any,
    pharmacist: Any,
    second_check: Any,
    unblinded: Any,
    aspirin_mg: float,
) -> None:
    """The courses of a batch's randomized participants, entered together.

    The visits are done in rounds: each round does, for every participant, the visits up to their next
    delayed infusion (all in one `visits_complete`), then the infusions of those visits (the pharmacy
    prepares and dispenses the bags first, so accountability balances), each step in one bulk call. The forms of
    every visit are then entered together, each form through its bulk service (the same checks, one
    insert per form), as a casebook transcribed after the fact would be, and so are the adverse
    events; then each participant's medications, edit checks and end of study.
    """
    if not enrolled:
        return
    by_pk = {e.participant.pk: e for e in enrolled}
    pending = {e.participant.pk: _segments(e.course) for e in enrolled}
    ratings: list[tuple[Any, Mapping[int | str, int]]] = []
    scores: list[tuple[Any, int]] = []
    samples: list[tuple[Any, datetime, str]] = []
    labs: dict[bool, list[visit_services.LabEntry]] = {False: [], True: []}
    vitals: list[tuple[Any, dict[str, Any]]] = []
    while any(pending.values()):
        now = {pk: segs.pop(0) for pk, segs in pending.items() if segs}
        # Read again each round: a baseline on another day, or a delayed infusion, moved later visits.
        for visit in Visit.objects.filter(participant_id__in=now).select_related("definition"):
            e = by_pk[visit.participant_id]
            visit.participant = e.participant
            e.visits[visit.definition.week] = visit
        to_do = []
        missed = []
        for pk, segment in now.items():
            e = by_pk[pk]
            for sv in segment:
                if sv.status == "missed":
                    missed.append((e.visits[sv.week], sv.missed_reason or "Missed", "other"))
                else:
                    to_do.append((e.visits[sv.week], sv.date))
        visit_services.visits_miss(entries=missed, by=coordinator)
        report.visits_missed += len(missed)
        visit_services.visits_complete(visits=to_do, by=coordinator)
        report.visits_done += len(to_do)
        bags: list[BagOrder] = []
        given: list[tuple[Any, dict[str, Any]]] = []
        for pk, segment in now.items():
            e = by_pk[pk]
            for sv in segment:
                if sv.status == "missed":
                    continue
                visit = e.visits[sv.week]
                _forms_of(sv, visit, e.participant, ratings, scores, samples, labs, vitals)
                if sv.infusion is not None and sv.weight_kg is not None:
                    bags.append(BagOrder(visit=visit, weight_kg=round(sv.weight_kg, 1), lot=e.lot))
                    given.append((visit, _infusion_data(sv)))
        # The pharmacy prepares and dispenses the bags first, so accountability balances.
        preps = preparations_create(bags=bags, by=pharmacist, saline_lot="NS-250-DEMO", second_check=second_check)
        preparations_dispense(preparations=preps, by=pharmacist, dispensed_to="Infusion nurse (demo)")
        visit_services.infusions_create(entries=given, by=coordinator)
    visit_services.hamd_records_create(ratings=ratings, by=rater)
    visit_services.cgis_records_create(scores=scores, by=rater)
    visit_services.lab_samples_create(samples=samples, by=coordinator)
    visit_services.lab_results_create(results=labs[False], by=coordinator)
    visit_services.lab_results_create(results=labs[True], by=unblinded)
    visit_services.vitals_records_create(entries=vitals, by=coordinator)
    events = [(e.participant, _adverse_event_data(ae)) for e in enrolled for ae in e.course.adverse_events]
    adverse_events_create(events=events, by=coordinator)
    report.adverse_events += len(events)
    ends = [
        end
        for e in enrolled
        if (end := _seed_close(e, report=report, coordinator=coordinator, aspirin_mg=aspirin_mg)) is not None
    ]
    ends_of_study_record(entries=ends, by=coordinator)


def _adverse_event_data(ae: Any) -> dict[str, Any]:
    return {
        "term": ae.term.capitalize(),
        "onset_date": ae.onset_date,
        "end_date": None if ae.ongoing else ae.end_date,
        "ongoing": ae.ongoing,
        "severity": ae.severity,
        "serious": False,
        "relatedness": _RELATEDNESS.get(ae.related, ae.related),
        "action_taken": _ACTION.get(ae.action, "none"),
        "outcome": _OUTCOME.get(ae.outcome, ae.outcome),
    }


def _forms_of(
    sv: SyntheticVisit,
    visit: Any,
    participant: Participant,
    ratings: list[tuple[Any, Mapping[int | str, int]]],
    scores: list[tuple[Any, int]],
    samples: list[tuple[Any, datetime, str]],
    labs: dict[bool, list[visit_services.LabEntry]],
    vitals: list[tuple[Any, dict[str, Any]]],
) -> None:
    """What was recorded at one done visit, added to the batch's lists of each form."""
    if sv.hamd_items is not None:
        ratings.append((visit, dict(enumerate(sv.hamd_items, start=1))))
    if sv.cgi_s is not None:
        scores.append((visit, sv.cgi_s))
    if sv.labs and any(blinding.lab_reveals_arm(code, sv.week) for code in sv.labs):
        # The site records the sample; the laboratory's results are entered by the unblinded
        # statistician (trial.blinding: these analytes reveal the arm after baseline).
        samples.append((visit, _at(sv.date, time(8, 45)), f"{participant.participant_id}-W{sv.week:02d}"))
    for analyte, (value, r1, r2) in sv.labs.items():
        labs[blinding.lab_reveals_arm(analyte, sv.week)].append(
            visit_services.LabEntry(
                visit=visit,
                analyte=analyte,
                sample_time=_at(sv.date, time(8, 45)),
                value=None if r1 is not None else round(value, 3),
                replicate_1=None if r1 is None else round(r1, 3),
                replicate_2=None if r2 is None else round(r2, 3),
                assay_batch=f"B{sv.date:%y%m}",
            )
        )
    if sv.systolic is not None and sv.weight_kg is not None:
        vitals.append(
            (
                visit,
                {
                    "weight_kg": round(sv.weight_kg, 1),
                    "systolic_mmhg": sv.systolic,
                    "diastolic_mmhg": sv.diastolic,
                    "heart_rate_bpm": sv.heart_rate,
                    "temperature_c": None if sv.temperature_c is None else round(sv.temperature_c, 1),
                },
            )
        )


def _infusion_data(sv: SyntheticVisit) -> dict[str, Any]:
    inf = sv.infusion
    assert inf is not None and sv.weight_kg is not None  # the caller gives only visits with an infusion
    return {
        "weight_kg": round(sv.weight_kg, 1),
        "start_time": _at(sv.date, inf.start_time),
        "stop_time": _at(sv.date, inf.stop_time),
        "reaction": inf.reaction or "",
        "delayed_for_infection": inf.delayed_days > 0,
        "delay_days": inf.delayed_days,
        "delay_reason": inf.delay_reason or "",
    }


def _seed_close(e: _Enrolled, *, report: SeedReport, coordinator: Any, aspirin_mg: float) -> EndOfStudyEntry | None:
    """A participant's medications and edit checks; their end of study, if they reached it, is
    returned for the batch's (`ends_of_study_record`)."""
    participant, course, index = e.participant, e.course, e.index
    baseline = course.visits[0].date if course.visits else None
    if baseline is not None and index % 20 == 7:
        # Three or so participants take low-dose aspirin, the one NSAID the protocol allows
        # (Concomitant medications).
        conmed_record(
            participant=participant,
            data={
                "name": "Aspirin",
                "drug_class": "aspirin",
                "dose": Decimal(str(aspirin_mg)),
                "dose_unit": "mg",
                "indication": "Cardiovascular prophylaxis",
                "start_date": baseline,
            },
            by=coordinator,
        )
    # The same automatic edit checks the forms run (out-of-window visits, HAM-D jumps, high hs-CRP,
    # weight changes), so the demo's data manager has real queries to work through.
    edit_checks_run(participant=participant, by=coordinator)
    if course.withdrawal is not None:
        report.withdrawn += 1
        return EndOfStudyEntry(
            participant=participant,
            outcome="withdrawn",
            end_date=course.withdrawal.date,
            reason=course.withdrawal.reason,
        )
    if course.completed:
        report.completed += 1
        last = next(v for v in course.visits if v.week == max(x.week for x in course.visits))
        return EndOfStudyEntry(participant=participant, outcome="completed", end_date=last.date, reason="completed")
    report.in_follow_up += 1
    return None


__all__ = ["AdverseEvent", "AlreadySeededError", "SeedReport", "demo_trial_seed"]
