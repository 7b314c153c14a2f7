"""List generation, balance and predictability: pure functions, no database."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from trial.randomization.generation import (
    balance_preview,
    generate_list,
    list_digest,
    list_random,
    possible_next_arms,
    predictability_report,
)

ARMS, RATIO = ["IFX", "PBO"], [1, 1]
STRATA = ["CRP<2|F", "CRP<2|M", "CRP>=2|F", "CRP>=2|M"]


def make(block_sizes: list[int], per_stratum: int = 40, seed: int = 7) -> list:
    return generate_list(
        strata=STRATA,
        arms=ARMS,
        ratio=RATIO,
        block_sizes=block_sizes,
        per_stratum=per_stratum,
        rng=random.Random(seed),
    )


def digest(entries: list) -> str:
    return list_digest(
        (e.stratum, e.sequence, e.block_number, e.block_size, e.arm, e.randomization_number) for e in entries
    )


def arms(entries: list) -> list:
    return [(e.stratum, e.sequence, e.block_number, e.block_size, e.arm) for e in entries]


def test_its_arms_follow_the_random_source_it_is_given() -> None:
    assert arms(make([4])) == arms(make([4]))
    assert arms(make([4])) != arms(make([4], seed=8))


def test_it_takes_no_seed_only_a_random_source() -> None:
    # A seed parameter is how a typed or public seed reaches the list (ICH E9 2.3.3).
    with pytest.raises(TypeError):
        generate_list(strata=STRATA, arms=ARMS, ratio=RATIO, block_sizes=[4], per_stratum=8, seed=7)  # type: ignore[call-arg]  # the point of the test: the keyword is gone


def test_the_apps_random_source_is_the_operating_systems() -> None:
    assert isinstance(list_random(), random.SystemRandom)
    draw = {"strata": STRATA, "arms": ARMS, "ratio": RATIO, "block_sizes": [4], "per_stratum": 40}
    first, second = generate_list(**draw, rng=list_random()), generate_list(**draw, rng=list_random())
    # 160 entries in blocks of 4: two OS draws agree by chance with probability 6**-40.
    assert arms(first) != arms(second)


def test_its_randomization_numbers_cannot_be_regenerated_from_the_seed() -> None:
    # Blinded users see numbers; if the seed determined them, a seed search would reveal every arm.
    first, second = make([4]), make([4])
    assert [e.randomization_number for e in first] != [e.randomization_number for e in second]
    assert digest(first) != digest(second)


def test_it_balances_every_block_of_every_stratum() -> None:
    for sizes in ([4], [2, 4, 6]):
        entries = make(sizes)
        blocks: dict = {}
        for e in entries:
            blocks.setdefault((e.stratum, e.block_number), []).append(e)
        for rows in blocks.values():
            assert len(rows) == rows[0].block_size
            assert Counter(e.arm for e in rows) == {"IFX": len(rows) // 2, "PBO": len(rows) // 2}
        assert {e.stratum for e in entries} == set(STRATA)


def test_it_draws_block_sizes_from_the_set_when_several_are_given() -> None:
    sizes = Counter(e.block_size for e in make([2, 4, 6], per_stratum=300))
    assert set(sizes) == {2, 4, 6}
    assert set(Counter(e.block_size for e in make([4]))) == {4}


def test_it_refuses_block_sizes_that_cannot_be_balanced() -> None:
    with pytest.raises(ValueError, match="multiple of 2"):
        make([3])


def test_it_gives_unique_randomization_numbers_unrelated_to_the_arm() -> None:
    entries = make([4], per_stratum=200)
    numbers = [e.randomization_number for e in entries]
    assert len(set(numbers)) == len(numbers)
    # Sorted by number, the arms are mixed (not all of one arm first).
    by_number = [e.arm for e in sorted(entries, key=lambda e: e.randomization_number)]
    half = len(by_number) // 2
    assert 0.35 < by_number[:half].count("IFX") / half < 0.65


def test_it_shows_the_balance_per_stratum() -> None:
    preview = balance_preview(make([4], per_stratum=10), ARMS)
    assert {b.stratum for b in preview} == set(STRATA)
    for b in preview:
        assert b.length == 12 and b.blocks == 3 and b.per_arm == {"IFX": 6, "PBO": 6}
        assert b.max_running_imbalance <= 2


def test_it_knows_which_arms_can_come_next() -> None:
    kw = {"arms": ARMS, "ratio": RATIO, "block_sizes": [4]}
    assert possible_next_arms([], **kw) == {"IFX", "PBO"}
    assert possible_next_arms(["IFX", "IFX"], **kw) == {"PBO"}
    assert possible_next_arms(["IFX", "PBO", "IFX"], **kw) == {"PBO"}
    assert possible_next_arms(["IFX", "PBO", "IFX", "PBO"], **kw) == {"IFX", "PBO"}
    # With blocks of 2 or 4 the observer cannot tell whether IFX,PBO closed a block, so a block of 4
    # may have begun at the second IFX and another IFX is still possible.
    assert possible_next_arms(["IFX", "PBO", "IFX"], arms=ARMS, ratio=RATIO, block_sizes=[2, 4]) == {"IFX", "PBO"}
    assert possible_next_arms(["IFX", "IFX"], arms=ARMS, ratio=RATIO, block_sizes=[2, 4]) == {"PBO"}
    assert possible_next_arms(["IFX", "PBO"], arms=ARMS, ratio=RATIO, block_sizes=[2, 4]) == {"IFX", "PBO"}


def test_it_reports_the_known_predictability_of_blocks_of_two() -> None:
    # Blocks of 2: every second allocation is certain; the convergence guess hits 3 in 4.
    report = predictability_report(make([2], per_stratum=400), arms=ARMS, ratio=RATIO, block_sizes=[2])
    assert report.certain_share == pytest.approx(0.5)
    assert report.convergence_hit_rate == pytest.approx(0.75)


def test_it_shows_that_fixed_blocks_of_four_are_far_from_unpredictable() -> None:
    # Blocks of 4: the last is always certain, the third when the first two match (1 in 3): 1/3 overall.
    fixed = predictability_report(make([4], per_stratum=600), arms=ARMS, ratio=RATIO, block_sizes=[4])
    assert fixed.certain_share == pytest.approx(1 / 3, abs=0.03)
    assert fixed.convergence_hit_rate == pytest.approx(0.708, abs=0.03)
    mixed = predictability_report(make([2, 4, 6], per_stratum=600), arms=ARMS, ratio=RATIO, block_sizes=[2, 4, 6])
    assert mixed.certain_share < fixed.certain_share / 3
