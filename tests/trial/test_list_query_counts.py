"""Every list page and API list runs the same number of queries at two trial sizes.

The world of the leak scan (every stratum, visits with forms and labs, pharmacy preparations, AEs,
queries, a code break) is counted once, then grown by eight participants with the same kinds of
records through the services, and counted again. A page that asks the database once per row
shows up as a difference. Counts are deterministic; times are measured in benchmarks/, not here.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db

# (URL, a role that may open it). The query list has its own two-size test beside its view.
LIST_PAGES = [
    ("/", "coordinator"),
    ("/", "unblinded"),
    ("/participants/", "coordinator"),
    # The visits-due page, on a list that holds visits at both sizes (an empty page skips a query).
    ("/visits/due/?list=this_week", "coordinator"),
    ("/randomization/", "unblinded"),
    ("/randomization/code-breaks/", "unblinded"),
    ("/pharmacy/", "pharmacist"),
    ("/pharmacy/lots/", "pharmacist"),
    ("/analysis/", "statistician"),
    ("/accounts/access-log/", "datamanager"),
    ("/safety/alerts/failures/", "datamanager"),
    ("/closeout/", "datamanager"),
    ("/closeout/worklist/", "datamanager"),
    ("/exports/", "datamanager"),
    ("/api/participants/", "coordinator"),
    ("/api/participants/", "unblinded"),
    ("/api/adverse-events/", "datamanager"),
    ("/api/randomization/allocations/", "unblinded"),
    ("/api/pharmacy/queue/", "pharmacist"),
    ("/safety/coding/", "datamanager"),
    ("/randomization/lists/", "unblinded"),
    ("/closeout/pharmacy-reconciliation/", "pharmacist"),
    ("/exports/tokens/", "datamanager"),
    ("/api/exports/", "datamanager"),
    ("/api/exports/hamd/", "datamanager"),
    ("/api/exports/ae/", "datamanager"),
    # The admin's change lists: one per clinical model a trial fills.
    ("/admin/participants/participant/", "datamanager"),
    ("/admin/visits/visit/", "datamanager"),
    ("/admin/visits/hamd17/", "datamanager"),
    ("/admin/visits/labresult/", "datamanager"),
    ("/admin/safety/adverseevent/", "datamanager"),
    ("/admin/randomization/allocation/", "unblinded"),
    ("/admin/pharmacy/preparation/", "pharmacist"),
]


def _counts(client: Any, users: dict[str, Any]) -> dict[tuple[str, str], int]:
    counts, refused = {}, []
    for url, username in LIST_PAGES:
        client.force_login(users[username])
        client.get(url)  # warm the session and the protocol cache, so both sizes start alike
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        if response.status_code != 200:
            refused.append((url, username, response.status_code))
        counts[(url, username)] = len(ctx.captured_queries)
    assert not refused, refused
    return counts


def _grow(users: dict[str, Any], make_participant: Any, lot: Any, k: int) -> None:
    """k more randomized participants, each with a done baseline visit, ratings, a dispensed
    preparation, an adverse event and an open query."""
    from tests.conftest import second_check_for
    from trial.pharmacy.services import preparation_create, preparation_dispense
    from trial.protocol.selectors import protocol
    from trial.queries.services import query_open
    from trial.randomization.models import ListEntry
    from trial.safety.services import adverse_event_record
    from trial.visits.services import cgis_record, hamd_record, infusion_record, visit_complete
    from trial.workspace.services import participant_enrol

    coordinator, pharmacist = users["coordinator"], users["pharmacist"]
    second_check = second_check_for(users)
    baseline = date.today() - timedelta(days=15)
    for i in range(k):
        p = make_participant(sex="FM"[i % 2], screened_days_ago=20, screening_crp_mg_l=3.4 + i)
        participant_enrol(participant=p, by=coordinator, baseline_date=baseline)
        p.refresh_from_db()
        visit = p.visits.select_related("definition").get(definition__week=0)
        visit_complete(visit=visit, actual_date=visit.scheduled_date, by=coordinator)
        hamd_record(visit=visit, items=dict.fromkeys(range(1, 18), 2), by=users["rater"])
        cgis_record(visit=visit, score=5, by=users["rater"])
        if visit.definition.infusion:
            infusion_record(visit=visit, data={"weight_kg": 75}, by=coordinator)
            arm = ListEntry.objects.get(allocation__participant=p).arm
            prep = preparation_create(
                visit=visit,
                by=pharmacist,
                weight_kg=75,
                saline_lot="NS-78",
                second_check=second_check,
                lot=lot if protocol().arm(arm).active else None,
            )
            preparation_dispense(preparation=prep, by=pharmacist, dispensed_to="Nurse Ada")
        adverse_event_record(
            participant=p,
            by=coordinator,
            data={
                "term": "Nausea",
                "onset_date": baseline + timedelta(days=1),
                "ongoing": True,
                "severity": "mild",
                "relatedness": "possible",
                "outcome": "recovering",
            },
        )
        query_open(participant=p, form="cgis", field="score", text="Please confirm", by=users["datamanager"])


def test_every_list_page_runs_the_same_queries_at_two_trial_sizes(
    client: Any, users: dict[str, Any], trial_world: Any, make_participant: Any, pharmacy_lot: Any
) -> None:
    from trial.participants.models import Participant

    small = _counts(client, users)
    before = Participant.objects.count()
    _grow(users, make_participant, pharmacy_lot, k=8)
    assert Participant.objects.count() == before + 8
    large = _counts(client, users)
    grew = {page: (small[page], large[page]) for page in small if large[page] != small[page]}
    assert not grew, f"query count grew with the trial (small, large): {grew}"


def _job_counts(users: dict[str, Any]) -> dict[tuple[str, str], int]:
    """The analysis frames and the export's tables, as the blinded statistician (whose role sees arms
    once the study is formally unblinded, so the blinding module's answer is a query) and as the
    unblinded statistician with the arm."""
    from analysis import frames
    from trial.exports.services import export_tables

    blinded, unblinded = users["statistician"], users["unblinded"]
    with_arm = (frames.participants_frame, frames.hamd_long_frame, frames.labs_long_frame, frames.visits_frame)
    jobs = {
        ("analysis frames", "statistician"): lambda: [
            *(f(user=blinded) for f in with_arm),
            frames.adverse_events_frame(user=blinded),
            frames.queries_frame(user=blinded),
        ],
        ("analysis frames with the arm", "unblinded"): lambda: [
            *(f(user=unblinded, include_arm=True) for f in with_arm),
            frames.adverse_events_frame(user=unblinded, include_arm=True),
        ],
        ("export tables", "statistician"): lambda: export_tables(by=blinded),
        ("export tables with the arm", "unblinded"): lambda: export_tables(by=unblinded, include_arm=True),
    }
    counts = {}
    for key, job in jobs.items():
        job()  # warm the protocol cache, so both sizes start alike
        with CaptureQueriesContext(connection) as ctx:
            job()
        counts[key] = len(ctx.captured_queries)
    return counts


def test_the_analysis_frames_and_export_tables_run_the_same_queries_at_two_trial_sizes(
    users: dict[str, Any], trial_world: Any, make_participant: Any, pharmacy_lot: Any
) -> None:
    small = _job_counts(users)
    _grow(users, make_participant, pharmacy_lot, k=8)
    large = _job_counts(users)
    grew = {job: (small[job], large[job]) for job in small if large[job] != small[job]}
    assert not grew, f"query count grew with the trial (small, large): {grew}"
