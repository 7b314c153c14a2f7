"""Build demo-like trial data through the services, for the leak scan and the permission matrix."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

# Post-baseline analyte values a rater must never see, and the strings they would show as.
POST_BASELINE_VALUES = {
    "hs_crp": ["13.579", "24.681"],
    "tnf": ["11.111", "11.333"],  # replicates; mean 11.222
    "stnfr1": ["2345.671", "2345.679"],  # mean 2345.675
    "stnfr2": ["6789.011", "6789.019"],  # mean 6789.015
}
POST_BASELINE_STRINGS = [
    "13.579",
    "13.58",
    "24.681",
    "24.68",
    "11.111",
    "11.333",
    "11.222",
    "2345.671",
    "2345.675",
    "6789.011",
    "6789.015",
]
BASELINE_CRP = "4.321"


def post_baseline_values_in(text: str) -> list[str]:
    """The post-baseline values shown in `text` as numbers of their own: not inside a longer number
    and not the seconds of a timestamp ("16:43:24.681234" is a time, not hs-CRP 24.681)."""
    import re

    return [v for v in POST_BASELINE_STRINGS if re.search(rf"(?<![\d:.]){re.escape(v)}(?!\d)", text)]


@dataclass
class World:
    participants: list[Any] = field(default_factory=list)
    arms: dict[int, str] = field(default_factory=dict)  # participant pk -> arm code (test-side truth)
    preparations: list[Any] = field(default_factory=list)
    withdrawn: Any = None
    unrandomized: Any = None
    code_break: Any = None
    investigator2: Any = None


def _at(d: date) -> datetime:
    return datetime.combine(d, time(9, 0), tzinfo=UTC)


def build_world(*, users: dict[str, Any], make_participant: Any, lot: Any, n: int = 8) -> World:
    from tests.conftest import second_check_for
    from trial.accounts.users import user_create_with_role
    from trial.core.roles import Role
    from trial.participants.services import end_of_study_record
    from trial.pharmacy.services import preparation_create, preparation_dispense, wastage_record
    from trial.protocol.models import Site
    from trial.protocol.selectors import protocol
    from trial.queries.services import query_open
    from trial.randomization.models import ListEntry
    from trial.randomization.services import code_break_decide, code_break_request
    from trial.safety.services import adverse_event_record, conmed_record
    from trial.visits.services import (
        cgis_record,
        hamd_record,
        infusion_record,
        lab_record,
        lab_sample_record,
        visit_complete,
        vitals_record,
    )
    from trial.workspace.services import participant_enrol

    config = protocol()
    coordinator, pharmacist = users["coordinator"], users["pharmacist"]
    second_check = second_check_for(users)
    w = World()
    today = date.today()
    baseline = today - timedelta(days=15)
    # Every stratum of the protocol in force: both sexes, at every site, and on each side of an
    # hs-CRP stratification cut (when the trial has one; an enrichment trial enrols above its cut only).
    crp_cuts = [f.cut for f in config.stratification if f.kind == "threshold" and f.source == "screening_crp_mg_l"]
    crp_levels = [3.4] + [cut - 0.8 for cut in crp_cuts if cut]
    sites = list(Site.objects.order_by("code"))
    strata = [(sex, crp, site) for crp in crp_levels for site in sites for sex in ("F", "M")]
    # The visits whose due date has passed: weeks 0, 1, 2 of the reference trial, 0 and 2 of the second.
    weeks_done = [v.week for v in config.visits if 0 <= v.week * 7 <= 15]
    for i in range(max(n, len(strata))):
        sex, crp, site = strata[i % len(strata)]
        p = make_participant(sex=sex, screened_days_ago=20, screening_crp_mg_l=crp, weight_kg=70 + 3 * i, at_site=site)
        participant_enrol(participant=p, by=coordinator, baseline_date=baseline)
        p.refresh_from_db()
        w.participants.append(p)
        w.arms[p.pk] = ListEntry.objects.get(allocation__participant=p).arm
        for visit in p.visits.filter(definition__week__in=weeks_done).select_related("definition"):
            visit_complete(visit=visit, actual_date=visit.scheduled_date, by=coordinator)
            week = visit.definition.week
            post_baseline_index = weeks_done.index(week) - 1
            hamd_record(visit=visit, items=dict.fromkeys(range(1, 18), 1), by=users["rater"])
            cgis_record(visit=visit, score=4, by=users["rater"])
            vitals_record(
                visit=visit, data={"weight_kg": 70 + 3 * i, "systolic_mmhg": 120, "diastolic_mmhg": 80}, by=coordinator
            )
            if week == 0:
                lab_record(
                    visit=visit,
                    analyte="hs_crp",
                    value=BASELINE_CRP,
                    sample_time=_at(visit.scheduled_date),
                    by=coordinator,
                )
            else:
                # Post-baseline: the site records the sample; the unblinded statistician the results.
                lab_sample_record(
                    visit=visit, drawn_at=_at(visit.scheduled_date), tube_id=f"T-{p.pk}-{week}", by=coordinator
                )
                crp_value = POST_BASELINE_VALUES["hs_crp"][post_baseline_index]
                lab_record(
                    visit=visit,
                    analyte="hs_crp",
                    value=crp_value,
                    sample_time=_at(visit.scheduled_date),
                    by=users["unblinded"],
                )
                for analyte in ("tnf", "stnfr1", "stnfr2"):
                    r1, r2 = POST_BASELINE_VALUES[analyte]
                    lab_record(
                        visit=visit,
                        analyte=analyte,
                        replicate_1=r1,
                        replicate_2=r2,
                        sample_time=_at(visit.scheduled_date),
                        by=users["unblinded"],
                    )
            if visit.definition.infusion:
                infusion_record(visit=visit, data={"weight_kg": 70 + 3 * i}, by=coordinator)
                prep = preparation_create(
                    visit=visit,
                    by=pharmacist,
                    weight_kg=70 + 3 * i,
                    saline_lot="NS-77",
                    second_check=second_check,
                    lot=lot if config.arm(w.arms[p.pk]).active else None,
                )
                if week == 0:
                    prep = preparation_dispense(preparation=prep, by=pharmacist, dispensed_to="Nurse Ada")
                w.preparations.append(prep)
    # Safety and data-management records on two participants of different arms.
    for p in (w.participants[0], w.participants[1]):
        adverse_event_record(
            participant=p,
            by=coordinator,
            data={
                "term": "Headache",
                "onset_date": baseline + timedelta(days=2),
                "end_date": baseline + timedelta(days=3),
                "severity": "mild",
                "relatedness": "possible",
                "outcome": "recovered",
            },
        )
        conmed_record(
            participant=p,
            by=coordinator,
            data={  # an NSAID: raises a protocol deviation too
                "name": "Ibuprofen",
                "drug_class": "nsaid",
                "dose": 400,
                "dose_unit": "mg",
                "start_date": baseline + timedelta(days=2),
            },
        )
        query_open(
            participant=p, form="vitals", field="weight_kg", text="Please confirm the weight", by=users["datamanager"]
        )
    wastage_record(lot=lot, by=pharmacist, vials=1, wasted_on=today, reason="Vial dropped")
    # One participant withdraws after week 2.
    w.withdrawn = w.participants[-1]
    end_of_study_record(
        participant=w.withdrawn, outcome="withdrawn", end_date=today, reason="withdrew consent", by=coordinator
    )
    w.withdrawn.refresh_from_db()
    # One eligible person not yet randomized.
    w.unrandomized = make_participant(sex="F", screened_days_ago=5)
    # A second investigator breaks the code for one participant, approved by the unblinded statistician:
    # the demo "investigator" must still see no arm, even on the code-break pages.
    w.investigator2 = user_create_with_role(username="investigator2", role=Role.INVESTIGATOR, password="x")
    from trial.accounts.services import role_changes_record

    role_changes_record(by=users["admin"], account=w.investigator2, before=set(), after={Role.INVESTIGATOR.value})
    cb = code_break_request(
        participant=w.participants[0], by=w.investigator2, reason="Severe infusion reaction", password="x"
    )
    w.code_break = code_break_decide(code_break=cb, by=users["unblinded"], approve=True, note="Agreed")
    # Analysis runs, requested (not executed: no worker in the test run), blinded and unblinded, so the
    # scan opens their pages too.
    from analysis.services import analysis_run_request

    analysis_run_request(kind="dataset_summary", by=users["statistician"])
    analysis_run_request(kind="dsmb_closed", by=users["unblinded"])  # the by-arm run before lock
    # Export jobs too, queued (no worker either), blinded and with the arm.
    from trial.exports.services import export_job_request

    export_job_request(by=users["statistician"], fmt="csv", datasets=["dm"])
    export_job_request(by=users["unblinded"], fmt="csv", datasets=["dm", "pharm"], include_arm=True)
    assert set(w.arms.values()) == {a.code for a in config.arms}, "the scan needs every arm"
    return w
