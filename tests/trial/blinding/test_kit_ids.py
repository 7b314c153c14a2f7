"""Kit (bag) identifiers carry no information about the arm."""

from __future__ import annotations

import inspect
import os
from typing import Any

import pytest

from tests.conftest import second_check_for
from trial.pharmacy.services import kit_id_new


def test_the_kit_id_generator_takes_no_input() -> None:
    assert inspect.signature(kit_id_new).parameters == {}


def rank_sum_z(ifx: list[str], pbo: list[str]) -> float:
    """Wilcoxon rank-sum z of IFX kits among all kits sorted by identifier."""
    ranked = sorted([(k, "IFX") for k in ifx] + [(k, "PBO") for k in pbo])
    w = sum(i + 1 for i, (_, arm) in enumerate(ranked) if arm == "IFX")
    n1, n2 = len(ifx), len(pbo)
    mean, var = n1 * (n1 + n2 + 1) / 2, n1 * n2 * (n1 + n2 + 1) / 12
    return (w - mean) / var**0.5


def common_prefix(ids: list[str]) -> str:
    return os.path.commonprefix(ids)  # noqa: RUF071 - character-wise is what we want for kit ids


def assert_uncorrelated(ifx: list[str], pbo: list[str]) -> None:
    assert len(ifx) >= 10 and len(pbo) >= 10
    # Same shape for both arms.
    assert {len(k) for k in ifx} == {len(k) for k in pbo}
    # No prefix shared by one arm beyond the fixed "K" shared by all.
    everyone = common_prefix(ifx + pbo)
    assert common_prefix(ifx) == everyone and common_prefix(pbo) == everyone
    # No ordering by arm: |z| > 5 has a chance of under 1 in a million for random tokens.
    assert abs(rank_sum_z(ifx, pbo)) < 5


def test_the_checks_catch_identifiers_built_from_the_arm() -> None:
    """Canary: kits numbered by arm, or sequential per arm, fail the same checks."""
    with pytest.raises(AssertionError):
        assert_uncorrelated([f"KA{i:07d}" for i in range(20)], [f"KB{i:07d}" for i in range(20)])
    with pytest.raises(AssertionError):
        assert_uncorrelated([f"K{i:08d}" for i in range(20)], [f"K{i:08d}" for i in range(20, 40)])


@pytest.mark.django_db
def test_kit_ids_of_prepared_bags_do_not_correlate_with_the_arm(
    users: Any, make_participant: Any, active_list: Any, pharmacy_lot: Any, coordinator: Any
) -> None:
    from trial.pharmacy.services import preparation_create
    from trial.randomization.models import ListEntry
    from trial.workspace.services import participant_enrol

    kits: dict[str, list[str]] = {"IFX": [], "PBO": []}
    for i in range(16):
        p = make_participant(sex="FM"[i % 2], screening_crp_mg_l=(3.4, 1.2)[i // 2 % 2])
        participant_enrol(participant=p, by=coordinator)
        arm = ListEntry.objects.get(allocation__participant=p).arm
        for visit in p.visits.filter(definition__infusion=True):
            prep = preparation_create(
                visit=visit,
                by=users["pharmacist"],
                weight_kg=82,
                saline_lot="NS",
                second_check=second_check_for(users),
                lot=pharmacy_lot if arm == "IFX" else None,
            )
            kits[arm].append(prep.kit_id)
            assert p.participant_id not in prep.kit_id
            assert p.allocation.entry.randomization_number not in prep.kit_id
    assert_uncorrelated(kits["IFX"], kits["PBO"])
