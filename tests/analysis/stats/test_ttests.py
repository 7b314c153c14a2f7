"""Two-group tests: Welch, pooled and Mann-Whitney on a small hand-checkable sample."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis.stats.ttests import mann_whitney, t_test

DATA = pd.DataFrame(
    {
        "arm": ["A"] * 5 + ["B"] * 4,
        "crp": [1.0, 2.0, 3.0, 4.0, 5.0, 2.0, 4.0, 6.0, 12.0],
    }
)


def test_welch_uses_the_welch_satterthwaite_df() -> None:
    res = t_test(DATA, value="crp", group="arm", a="A", b="B")
    va, vb, na, nb = 2.5, 18.666666666666668, 5, 4
    se2 = va / na + vb / nb
    df = se2**2 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1))
    assert res.statistic == pytest.approx((3.0 - 6.0) / math.sqrt(se2))
    assert res.df == pytest.approx(df)
    assert res.difference == pytest.approx(-3.0)
    assert res.ci_low < -3.0 < res.ci_high


def test_pooled_uses_n_minus_2_df() -> None:
    res = t_test(DATA, value="crp", group="arm", a="A", b="B", equal_var=True)
    assert res.df == 7
    sp2 = (4 * 2.5 + 3 * 18.666666666666668) / 7
    assert res.statistic == pytest.approx(-3.0 / math.sqrt(sp2 * (1 / 5 + 1 / 4)))


def test_mann_whitney_counts_pairs() -> None:
    res = mann_whitney(DATA, value="crp", group="arm", a="A", b="B")
    # U_A = pairs with A > B (+0.5 per tie): 0+0.5+1+1.5+2 = 5.
    assert res.statistic == 5.0
    assert 0.0 < res.p < 1.0


def test_it_needs_two_values_per_group() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        t_test(DATA.iloc[:6], value="crp", group="arm", a="A", b="B")
