"""2:2:1 in random blocks of 5 and 10, stratified by site and sex (protocols/infliximab_trd_dose.toml):
list generation, the predictability report checked against a brute-force enumeration, and allocation
from many threads at once."""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from functools import cache
from typing import Any

import pytest

from tests.conftest import PROTOCOL_DIR
from tests.trial.randomization.test_concurrency import run_threads
from trial.protocol.config import load_protocol_file
from trial.randomization.generation import generate_list, possible_next_arms, predictability_report

SECOND_PATH = PROTOCOL_DIR / "infliximab_trd_dose.toml"
ARMS, RATIO, BLOCKS = ("IFX10", "IFX5", "PBO"), (2, 2, 1), (5, 10)


def test_every_block_holds_2_2_1_and_both_block_sizes_occur() -> None:
    cfg = load_protocol_file(SECOND_PATH)
    assert (tuple(a.code for a in cfg.arms), cfg.allocation_ratio, cfg.block_sizes) == (ARMS, RATIO, BLOCKS)
    entries = generate_list(
        strata=cfg.strata(), arms=ARMS, ratio=RATIO, block_sizes=BLOCKS, per_stratum=40, rng=random.Random(7)
    )
    blocks: dict[tuple[str, int], list[str]] = defaultdict(list)
    for e in entries:
        blocks[(e.stratum, e.block_number)].append(e.arm)
    assert {s for s, _ in blocks} == set(cfg.strata())
    assert {len(b) for b in blocks.values()} == {5, 10}
    for arms in blocks.values():
        n = len(arms) // 5
        assert Counter(arms) == {"IFX10": 2 * n, "IFX5": 2 * n, "PBO": n}


@cache
def _block_orders(size: int) -> frozenset[tuple[str, ...]]:
    pool = [a for a, r in zip(ARMS, RATIO, strict=True) for _ in range(r * size // 5)]
    return frozenset(itertools.permutations(pool))


def _brute_force_next(history: tuple[str, ...], block_sizes: tuple[int, ...]) -> set[str]:
    """Every arm that some list of whole 2:2:1 blocks (sizes drawn from block_sizes) puts next after
    `history`: enumerate the block sequences outright (independent of the report's bookkeeping)."""
    out: set[str] = set()

    def extend(done: tuple[str, ...]) -> None:
        if len(done) > len(history):
            if done[: len(history)] == history:
                out.add(done[len(history)])
            return
        for size in block_sizes:
            for order in _block_orders(size):
                candidate = done + order
                k = min(len(candidate), len(history))
                if candidate[len(done) : k] == history[len(done) : k]:
                    extend(candidate)

    extend(())
    return out


@pytest.mark.parametrize("blocks", [(5,), (5, 10)])
@pytest.mark.parametrize("seed", [1, 2])
def test_the_arms_that_could_come_next_match_an_enumeration_of_every_possible_list(
    blocks: tuple[int, ...], seed: int
) -> None:
    rng = random.Random(seed)
    entries = generate_list(strata=["S"], arms=ARMS, ratio=RATIO, block_sizes=blocks, per_stratum=7, rng=rng)
    history = [e.arm for e in entries]
    for n in range(7):
        expected = _brute_force_next(tuple(history[:n]), blocks)
        assert possible_next_arms(history[:n], arms=ARMS, ratio=RATIO, block_sizes=blocks) == expected, n


def test_random_block_sizes_leave_fewer_allocations_certain_than_fixed_blocks_of_5() -> None:
    def certain(blocks: tuple[int, ...]) -> float:
        entries = generate_list(
            strata=["A", "B"], arms=ARMS, ratio=RATIO, block_sizes=blocks, per_stratum=100, rng=random.Random(3)
        )
        return predictability_report(entries, arms=ARMS, ratio=RATIO, block_sizes=blocks).certain_share

    # With fixed blocks of 5 at least the last of every block is certain (>= 1/5).
    assert certain((5,)) >= 0.2 > certain((5, 10))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("protocol_file", [pytest.param(SECOND_PATH, id="infliximab_trd_dose")], indirect=True)
def test_sixty_allocations_from_twenty_threads_fill_six_strata_in_order_at_2_2_1(
    protocol_file: Any, make_participant: Any, users: Any, protocol_loaded: Any, coordinator: Any
) -> None:
    from trial.protocol.models import Site
    from trial.randomization.models import Allocation
    from trial.randomization.services import participant_randomize, randomization_list_create

    randomization_list_create(by=users["unblinded"], per_stratum=20)
    sites = list(Site.objects.order_by("code"))
    people = [make_participant(sex="FM"[i % 2], at_site=sites[i // 2 % 3]) for i in range(60)]

    results, errors = run_threads(people, lambda p: participant_randomize(participant=p, by=coordinator))

    assert errors == [] and len(results) == 60
    allocations = list(Allocation.objects.select_related("entry", "participant__site").order_by("id"))
    assert len({a.entry_id for a in allocations}) == 60
    by_stratum: dict[str, list[Any]] = defaultdict(list)
    for a in allocations:
        assert a.stratum.split("|") == [a.participant.site.code, a.participant.sex]
        by_stratum[a.stratum].append(a.entry)
    assert len(by_stratum) == 6
    for stratum, taken in by_stratum.items():
        assert [e.sequence for e in taken] == list(range(1, 11)), stratum
        # Every block the ten allocations filled completely holds exactly 2:2:1 per five places (the
        # tenth may end inside a block of 10 that began at the sixth place).
        blocks: dict[int, list[Any]] = defaultdict(list)
        for e in taken:
            blocks[e.block_number].append(e)
        whole = [b for b in blocks.values() if len(b) == b[0].block_size]
        assert whole, stratum
        for b in whole:
            per_five = b[0].block_size // 5
            assert Counter(e.arm for e in b) == {"IFX10": 2 * per_five, "IFX5": 2 * per_five, "PBO": per_five}
