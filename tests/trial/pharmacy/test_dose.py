"""Dose plans (Design: infliximab 5 mg/kg, whole 100 mg vials; placebo matched)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trial.pharmacy.selectors import dose_plan


@pytest.mark.parametrize(
    ("weight", "dose", "vials"),
    [(82, 400, 4), (90, 500, 5), (89.9, 400, 4), (70, 400, 4), (69.9, 300, 3), (120, 600, 6)],
)
def test_it_rounds_five_mg_per_kg_to_whole_vials(weight: float, dose: int, vials: int) -> None:
    plan = dose_plan(arm_code="IFX", weight_kg=weight)
    assert (plan.dose_mg, plan.vials) == (dose, vials)
    assert plan.volume_ml == Decimal(vials * 10)
    assert plan.draws_vials


def test_it_gives_placebo_the_same_dose_and_volume_but_no_vials() -> None:
    active, placebo = dose_plan(arm_code="IFX", weight_kg=82), dose_plan(arm_code="PBO", weight_kg=82)
    assert (placebo.dose_mg, placebo.vials, placebo.volume_ml) == (active.dose_mg, active.vials, active.volume_ml)
    assert not placebo.draws_vials
    assert "matched for colour and consistency" in placebo.preparation
    assert "Reconstitute" in active.preparation
