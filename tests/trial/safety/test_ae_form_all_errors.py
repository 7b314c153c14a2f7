"""The adverse-event form says everything wrong with an entry in one answer, and puts the seriousness
criteria (ICH E2A) next to the seriousness field."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from trial.safety.models import AdverseEvent
from trial.safety.rules import SAE_CRITERIA

pytestmark = pytest.mark.django_db


def test_every_error_is_shown_at_once_with_what_was_typed_kept(login, randomized):
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    r = login("coordinator").post(
        f"/safety/participants/{randomized.participant_id}/adverse-events/new/",
        {
            "term": "Fell\tover",  # a tab in a one-line field
            "onset_date": tomorrow,
            "end_date": "2001-01-01",
            "severity": "",
            "relatedness": "",
            "outcome": "",
            "sae_death": "on",  # ticked, but not marked serious, and no outcome chosen
            "action_taken": "none",
        },
    )
    errors = r.context["form"].errors
    assert errors["term"] == ["Control characters (a line break, a tab) are not allowed in this one-line field."]
    assert errors["onset_date"] == ["This date cannot be in the future."]
    assert "The event cannot end before its onset." in errors["end_date"]
    assert errors["severity"] == ["Give the severity."]
    assert errors["relatedness"] == ["Say how the event is related to the study drug."]
    # Before, only "This field is required." here; the death rule spoke once an outcome was chosen.
    assert errors["outcome"] == ["Give the outcome.", "An event resulting in death has the outcome 'Fatal'."]
    assert errors["serious"] == ["A seriousness criterion is ticked: mark the event as serious."]
    assert 'value="2001-01-01"' in r.content.decode()
    assert not AdverseEvent.objects.exists()


def test_a_death_with_a_wrong_outcome_is_said_with_the_other_errors(login, randomized):
    r = login("coordinator").post(
        f"/safety/participants/{randomized.participant_id}/adverse-events/new/",
        {
            "term": "Cardiac arrest",
            "onset_date": date.today().isoformat(),
            "severity": "severe",
            "relatedness": "unlikely",
            "outcome": "recovered",
            "serious": "on",
            "sae_death": "on",
            "action_taken": "none",
        },
    )
    errors = r.context["form"].errors
    assert errors["outcome"] == ["An event resulting in death has the outcome 'Fatal'."]
    assert errors["end_date"] == ["A resolved event needs its end date."]


def test_the_seriousness_criteria_follow_the_seriousness_field(login, randomized):
    r = login("coordinator").get(f"/safety/participants/{randomized.participant_id}/adverse-events/new/")
    names = list(r.context["form"].fields)
    at = names.index("serious")
    assert names[at + 1 : at + 1 + len(SAE_CRITERIA)] == list(SAE_CRITERIA)
    body = r.content.decode()
    ids = [m.group(1) for m in re.finditer(r'id="field-(\w+)"', body)]
    assert ids[ids.index("serious") + 1] == "sae_death"
