"""2x2 tests against the published results (protocol, "Published results to reproduce")."""

from __future__ import annotations

import pytest

from analysis.stats.contingency import chi_square_2x2, fisher_exact_2x2, risk_difference


def test_it_reproduces_the_published_chi_square_above_5_mg_per_l() -> None:
    res = chi_square_2x2(8, 13, 3, 9, correction=False)
    assert round(res.statistic, 2) == 1.69
    assert round(res.p, 2) == 0.19


def test_it_reproduces_the_published_chi_square_at_or_below_5_mg_per_l() -> None:
    res = chi_square_2x2(7, 17, 12, 21, correction=False)
    assert round(res.statistic, 2) == 0.96
    assert round(res.p, 2) == 0.33


def test_yates_correction_shrinks_the_statistic() -> None:
    plain = chi_square_2x2(8, 13, 3, 9, correction=False)
    yates = chi_square_2x2(8, 13, 3, 9, correction=True)
    # (|ad - bc| - n/2)^2 n / (row and column totals): 0.752 for this table.
    assert yates.statistic == pytest.approx(0.7521367521, rel=1e-9)
    assert yates.p > plain.p


def test_fisher_exact_matches_the_hypergeometric_sum() -> None:
    res = fisher_exact_2x2(8, 13, 3, 9)
    assert res.odds_ratio == pytest.approx(8 * 6 / (5 * 3))
    assert res.p == pytest.approx(0.386997, abs=1e-6)


def test_it_gives_nnt_and_nnh_from_counts() -> None:
    benefit = risk_difference(8, 13, 3, 9)
    harm = risk_difference(7, 17, 12, 21)
    assert benefit.number_needed is not None and harm.number_needed is not None
    assert (benefit.label, round(benefit.number_needed, 2)) == ("NNT", 3.55)
    assert (harm.label, round(harm.number_needed, 2)) == ("NNH", 6.26)
    assert benefit.ci_low < benefit.difference < benefit.ci_high
    # The CI includes 0, so the NNT's CI is unbounded and not reported.
    assert benefit.number_needed_ci is None


def test_equal_proportions_need_no_number_and_carry_no_label() -> None:
    # 4/10 vs 6/15: 1/0 is no "number needed to harm" (it was reported as NNH = inf).
    res = risk_difference(4, 10, 6, 15)
    assert res.difference == 0.0
    assert (res.number_needed, res.label, res.number_needed_ci) == (None, None, None)


def test_it_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        chi_square_2x2(14, 13, 3, 9, correction=False)
