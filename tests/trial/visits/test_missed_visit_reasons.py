"""A missed visit takes a coded reason from the protocol file's [missed_visits] list, and free text
beside it (required for "other")."""

from __future__ import annotations

import importlib

import pytest
from django.core.exceptions import ValidationError

from tests.conftest import PROTOCOL_FILES
from trial.protocol.config import ProtocolError, parse_protocol
from trial.protocol.selectors import protocol
from trial.visits import services
from trial.visits.forms import MissedVisitForm
from trial.visits.models import Visit

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("protocol_file", PROTOCOL_FILES, indirect=True)
def test_every_trial_lists_its_reasons_with_other_among_them(protocol_loaded):
    codes = [r.code for r in protocol().missed_visit_reasons]
    assert "other" in codes and "participant_burden" in codes
    form = MissedVisitForm()
    assert [c for c, _ in form.fields["missed_reason_code"].choices][1:] == codes


def test_a_reason_is_chosen_and_other_needs_the_text(protocol_loaded):
    form = MissedVisitForm(data={"version": "1", "missed_reason_code": "", "missed_reason": ""})
    assert form.errors["missed_reason_code"] == ["Choose why the visit was missed."]
    form = MissedVisitForm(data={"version": "1", "missed_reason_code": "other", "missed_reason": " "})
    assert form.errors["missed_reason"] == ["Give the reason the visit was missed."]
    assert MissedVisitForm(data={"version": "1", "missed_reason_code": "participant_burden"}).is_valid()


def test_a_code_not_in_the_protocol_file_is_refused(protocol_loaded):
    form = MissedVisitForm(data={"version": "1", "missed_reason_code": "holiday", "missed_reason": "x"})
    assert "missed_reason_code" in form.errors


def test_the_service_stores_the_code_and_the_text_and_audits_both(enrolled_a_month_ago, coordinator):
    week3 = enrolled_a_month_ago.visits.get(definition__week=3)
    services.visit_miss(visit=week3, reason_code="participant_burden", reason="HAM-D dropped", by=coordinator)
    saved = Visit.objects.get(pk=week3.pk)
    assert (saved.status, saved.reason_code, saved.reason) == ("missed", "participant_burden", "HAM-D dropped")
    reason = saved.history.first().history_change_reason
    assert reason == "Visit missed: Participant burden (assessment dropped): HAM-D dropped"
    with pytest.raises(ValidationError):
        services.visit_miss(
            visit=enrolled_a_month_ago.visits.get(definition__week=4), reason_code="holiday", reason="", by=coordinator
        )


def test_visits_missed_before_codes_existed_read_other(enrolled_a_month_ago, coordinator):
    week3 = enrolled_a_month_ago.visits.get(definition__week=3)
    services.visit_miss(visit=week3, reason="Travelling", by=coordinator)
    Visit._base_manager.filter(pk=week3.pk).update(reason_code="")  # as a row from before the codes
    migration = importlib.import_module("trial.visits.migrations.0005_missed_reason_code_and_soft_check_log")
    from django.apps import apps

    migration.missed_visits_read_other(apps, None)
    assert Visit.objects.get(pk=week3.pk).reason_code == "other"


def test_a_protocol_file_without_other_is_refused():
    text = (PROTOCOL_FILES[0].values[0]).read_text()
    with pytest.raises(ProtocolError, match="reasons must include 'other'"):
        parse_protocol(text.replace('{ code = "other", label = "Other (say what in the text)" },', ""))


def test_a_soft_check_of_an_unknown_kind_is_refused():
    text = (PROTOCOL_FILES[0].values[0]).read_text()
    with pytest.raises(ProtocolError, match="kind must be one of"):
        parse_protocol(
            text.replace(
                'code = "missed_before_window"\nkind = "refusal"', 'code = "missed_before_window"\nkind = "query"'
            )
        )


def test_the_visit_and_participant_pages_show_the_reason_in_the_files_words(login, enrolled_a_month_ago, coordinator):
    week3 = enrolled_a_month_ago.visits.get(definition__week=3)
    services.visit_miss(visit=week3, reason_code="participant_burden", reason="HAM-D dropped", by=coordinator)
    c = login("coordinator")
    assert "Participant burden (assessment dropped)" in c.get(f"/visits/{week3.pk}/").content.decode()
    page = c.get(f"/participants/{enrolled_a_month_ago.participant_id}/").content.decode()
    assert "Participant burden (assessment dropped): HAM-D dropped" in page
