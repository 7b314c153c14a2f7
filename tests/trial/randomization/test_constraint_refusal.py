"""The one-to-one constraints on an allocation are the second line of defence behind the row locks.
The allocation does not ask the database beforehand whether its slot or its participant is taken: a
clash is refused by the constraint, and the user is told that nothing was allocated, by the service
and on the Randomize page. Made here by moving a stratum's cursor back behind the
application, the one way a slot already given out can be offered again."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from trial.participants.models import Participant
from trial.randomization.models import Allocation, StratumCursor
from trial.randomization.services import RandomizationError
from trial.visits.models import Visit
from trial.workspace.services import participant_enrol

REFUSED = "Randomization could not be completed safely; please try again."


def _second_offer_of_the_first_slot(make_participant: Any, active_list: Any, coordinator: Any) -> Any:
    first = make_participant()
    participant_enrol(participant=first, by=coordinator)
    taken = Allocation.objects.select_related("entry").get(participant=first)
    StratumCursor.objects.filter(randomization_list=active_list, stratum=taken.stratum).update(
        next_sequence=taken.entry.sequence
    )
    return make_participant()  # same sex and hs-CRP: the same stratum


def _nothing_saved_for(p: Any) -> None:
    p.refresh_from_db()
    assert p.status == Participant.Status.ELIGIBLE
    assert not Allocation.objects.filter(participant=p).exists()
    assert not Visit.objects.filter(participant=p).exists()


@pytest.mark.django_db
def test_it_reports_a_slot_refused_by_the_constraint_and_saves_nothing(
    make_participant: Any, active_list: Any, coordinator: Any
) -> None:
    second = _second_offer_of_the_first_slot(make_participant, active_list, coordinator)
    with pytest.raises(RandomizationError) as refused:
        participant_enrol(participant=second, by=coordinator)
    assert refused.value.messages == [REFUSED]
    _nothing_saved_for(second)


@pytest.mark.django_db
def test_the_randomize_page_shows_the_refusal(
    client: Any, users: Any, make_participant: Any, active_list: Any, coordinator: Any
) -> None:
    second = _second_offer_of_the_first_slot(make_participant, active_list, coordinator)
    client.force_login(users["coordinator"])
    response = client.post(
        f"/participants/{second.participant_id}/randomize/",
        {"baseline_date": date.today().isoformat(), "confirm": "on"},
    )
    assert response.status_code == 200
    assert REFUSED in response.content.decode()
    _nothing_saved_for(second)
