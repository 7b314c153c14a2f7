"""Standardized effect size at a visit (formula in analysis.stats.effect_size)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis.stats.effect_size import standardized_effect_size

DATA = pd.DataFrame(
    {
        "arm": ["IFX"] * 3 + ["PBO"] * 3 + ["IFX"],
        "week": [12] * 6 + [8],
        "chg": [-10.0, -8.0, -6.0, -6.0, -4.0, -2.0, -30.0],
    }
)


def test_positive_d_favours_the_active_arm_when_lower_is_better() -> None:
    res = standardized_effect_size(
        DATA, value="chg", group="arm", active="IFX", control="PBO", visit_column="week", visit=12
    )
    # Means -8 and -4, both SDs 2: d = -(-8 - -4) / 2 = 2; the week-8 row is ignored.
    assert res.d == pytest.approx(2.0)
    assert (res.n_active, res.n_control) == (3, 3)


def test_hedges_correction() -> None:
    res = standardized_effect_size(
        DATA,
        value="chg",
        group="arm",
        active="IFX",
        control="PBO",
        visit_column="week",
        visit=12,
        hedges=True,
    )
    assert res.d == pytest.approx(2.0 * (1 - 3 / (4 * 6 - 9)))


def test_higher_is_better_flips_the_sign() -> None:
    res = standardized_effect_size(
        DATA,
        value="chg",
        group="arm",
        active="IFX",
        control="PBO",
        visit_column="week",
        visit=12,
        lower_is_better=False,
    )
    assert res.d == pytest.approx(-2.0)
    assert math.isfinite(res.sd_pooled)
