"""Close the seeded demo trial through the services, as a site, a monitor, an investigator, a data
manager and the unblinded statistician would at the end of a trial: finish every participant, answer
and close the queries, verify, sign, lock every casebook, lock the database (two approvals) and
formally unblind (two people). Nothing is written around the services, so every rule applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from trial.accounts.users import DEMO_PASSWORD, demo_users_ensure
from trial.closeout import selectors as closeout
from trial.closeout import services as close
from trial.core.roles import Role
from trial.participants.models import Participant
from trial.participants.services import end_of_study_record
from trial.queries.models import DataQuery
from trial.queries.services import query_answer, query_close
from trial.visits.models import Visit
from trial.visits.services import visit_miss


@dataclass
class CloseReport:
    finished: int = 0
    forms_not_done: int = 0
    queries_closed: int = 0
    forms_verified: int = 0
    casebooks_locked: int = 0


def demo_trial_close() -> CloseReport:
    users = demo_users_ensure()
    coordinator, datamanager = users[Role.COORDINATOR], users[Role.DATA_MANAGER]
    investigator, unblinded = users[Role.INVESTIGATOR], users[Role.STATISTICIAN_UNBLINDED]
    report = CloseReport()
    participants = list(Participant.objects.active().order_by("participant_id"))
    for participant in participants:
        with transaction.atomic():
            _finish(participant, coordinator=coordinator, report=report)
    for query in DataQuery.objects.active().exclude(status=DataQuery.Status.CLOSED).order_by("pk"):
        with transaction.atomic():
            if query.status == DataQuery.Status.OPEN:
                query = query_answer(query=query, text="Checked against source: value confirmed.", by=coordinator)
            query_close(query=query, by=datamanager, text="Answer accepted at close-out.")
            report.queries_closed += 1
    for participant in participants:
        with transaction.atomic():
            for unit in closeout.casebook_status(participant).units:
                if unit.needs_verification:
                    close.source_verify(participant=participant, unit=unit.key, by=datamanager)
                    report.forms_verified += 1
            close.casebook_sign(
                participant=participant, by=investigator, username=investigator.get_username(), password=DEMO_PASSWORD
            )
            close.casebook_lock(participant=participant, by=datamanager)
            report.casebooks_locked += 1
    close.database_lock_approve(by=datamanager)
    close.database_lock_approve(by=unblinded)
    close.study_unblind_declare(by=unblinded)
    close.study_unblind_approve(by=investigator)
    return report


def _finish(participant: Participant, *, coordinator: Any, report: CloseReport) -> None:
    """End the study for anyone still on it, mark visits never done as missed, and mark each expected
    form that was not collected as not done, saying why."""
    if participant.status == Participant.Status.RANDOMIZED:
        visits = list(participant.visits.active().select_related("definition").order_by("scheduled_date"))
        done = [v.actual_date for v in visits if v.status == Visit.Status.DONE and v.actual_date is not None]
        last = done[-1] if done else visits[0].scheduled_date
        end_of_study_record(
            participant=participant, outcome="withdrawn", end_date=last, reason="lost to follow-up", by=coordinator
        )
        participant.refresh_from_db()
        # After the end of study: a visit whose window has not opened yet is missed only once the
        # participant has left (the protocol file's missed_before_window check).
        for visit in visits:
            visit.refresh_from_db()
            if visit.status == Visit.Status.SCHEDULED:
                visit_miss(visit=visit, reason="Not done before the end of the trial", by=coordinator)
        report.finished += 1
    else:
        eos = getattr(participant, "end_of_study", None)
        for visit in participant.visits.active().filter(status=Visit.Status.SCHEDULED).select_related("definition"):
            if eos is None or visit.window_start <= eos.end_date:
                visit_miss(visit=visit, reason="Not done before the end of study", by=coordinator)
    for unit in closeout.casebook_status(participant).units:
        if unit.expected and not unit.complete:
            close.form_mark_not_done(
                participant=participant, unit=unit.key, by=coordinator, reason="Not collected at this visit"
            )
            report.forms_not_done += 1
