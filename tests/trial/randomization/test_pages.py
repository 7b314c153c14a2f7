"""The randomization pages: the coordinator randomizes and sees a number only; the unblinded
statistician previews a list's balance and predictability before storing it."""

from __future__ import annotations

from typing import Any

import pytest

from trial.randomization.models import Allocation, RandomizationList


@pytest.mark.django_db
def test_the_coordinator_randomizes_and_sees_the_number_and_date_only(
    client: Any, users: Any, make_participant: Any, active_list: Any
) -> None:
    p = make_participant()
    client.force_login(users["coordinator"])
    url = f"/participants/{p.participant_id}/randomize/"
    response = client.post(url, {"baseline_date": "", "confirm": "on"})
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    from datetime import date

    response = client.post(url, {"baseline_date": date.today().isoformat(), "confirm": "on"}, follow=True)
    body = response.content.decode()
    number = Allocation.objects.get(participant=p).entry.randomization_number
    assert number in body
    assert "Infliximab 5 mg/kg IV" not in body and "Placebo (saline)" not in body


@pytest.mark.django_db
def test_the_page_lists_each_unmet_precondition(
    client: Any, users: Any, make_participant: Any, active_list: Any
) -> None:
    p = make_participant(consent=False)
    client.force_login(users["coordinator"])
    body = client.get(f"/participants/{p.participant_id}/randomize/").content.decode()
    assert "No signed consent is on file." in body
    assert "Eligibility is not confirmed" not in body  # eligible, only the consent is missing


@pytest.mark.django_db
def test_the_statistician_previews_predictability_then_stores_the_list(
    client: Any, users: Any, protocol_loaded: Any
) -> None:
    client.force_login(users["unblinded"])
    params = {"per_stratum": "40", "block_sizes": ["4"], "activate": "on", "name": "Fixed 4"}
    page = client.post("/randomization/lists/generate/", params | {"preview": "1"}).content.decode()
    # Fixed blocks of 4: the last of every block is certain, and the last two when the first two match
    # (a third of blocks): between 0.25 and 0.5 on any list, about 0.33 on average. The list comes from
    # the operating system's randomness, so the test holds the bounds, not the average.
    assert 'id="certain-share"' in page
    share = float(page.split('id="certain-share">')[1].split("<")[0])
    assert 0.25 <= share <= 0.5, share
    assert not RandomizationList.objects.exists()  # a preview stores nothing
    response = client.post("/randomization/lists/generate/", params | {"store": "1"})
    rl = RandomizationList.objects.get()
    assert response["Location"] == f"/randomization/lists/{rl.pk}/"
    assert rl.block_sizes == [4] and rl.is_active and rl.entries.count() == 160
    detail = client.get(response["Location"]).content.decode()
    assert rl.sha256 in detail and "<strong>matches</strong>" in detail
