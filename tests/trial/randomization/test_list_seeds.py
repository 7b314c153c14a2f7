"""The list cannot be replayed: no seed is typed, stored, shown or put in a URL, and the demo's public
seed does not shape it (ICH E9 2.3.3: allocation must be unpredictable to everyone but the holders
of the list)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from trial.protocol.selectors import protocol
from trial.randomization.generation import generate_list
from trial.randomization.models import RandomizationList
from trial.randomization.services import list_strata

pytestmark = pytest.mark.django_db


def _arms(rl: RandomizationList) -> list[tuple[str, int, str]]:
    return list(rl.entries.order_by("stratum", "sequence").values_list("stratum", "sequence", "arm"))


def _replay(rl: RandomizationList, seed: int) -> list[tuple[str, int, str]]:
    """What an attacker computes: the generator run on a guessed seed with the list's public design."""
    config = protocol()
    planned = generate_list(
        strata=list_strata(config, by_site=rl.stratify_by_site),
        arms=[a.code for a in config.arms],
        ratio=config.allocation_ratio,
        block_sizes=list(rl.block_sizes),
        per_stratum=rl.per_stratum or 0,
        rng=random.Random(seed),
    )
    return [(p.stratum, p.sequence, p.arm) for p in planned]


def test_it_ignores_a_typed_seed_and_stores_none(client: Any, users: Any, protocol_loaded: Any) -> None:
    client.force_login(users["unblinded"])
    params = {"seed": "11", "per_stratum": "40", "block_sizes": ["4"], "activate": "on", "store": "1"}
    client.post("/randomization/lists/generate/", params)
    rl = RandomizationList.objects.get()
    assert _arms(rl) != _replay(rl, 11)
    assert "seed" not in {f.name for f in RandomizationList._meta.get_fields()}


def test_its_parameters_never_reach_a_url(client: Any, users: Any, protocol_loaded: Any) -> None:
    # A GET with the form's parameters previews and stores nothing: the preview is a POST.
    client.force_login(users["unblinded"])
    page = client.get("/randomization/lists/generate/", {"per_stratum": "40", "block_sizes": ["4"]})
    body = page.content.decode()
    assert 'id="certain-share"' not in body and 'name="seed"' not in body
    assert '<form method="post">' in body
    assert not RandomizationList.objects.exists()


def test_the_demo_list_is_not_replayable_from_the_demo_seed(users: Any) -> None:
    from trial.demo.seeding import demo_trial_seed

    demo_trial_seed(participants=8, seed=2013)
    rl = RandomizationList.objects.get(is_active=True)
    assert _arms(rl) != _replay(rl, 2013)
