"""Several active arms against one control (analysis.stats.multiarm), checked against independent
computations: statsmodels' MixedLM for the contrasts, statsmodels' multipletests for the adjustments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.multitest import multipletests

from analysis.stats.multiarm import adjust_pvalues, multiarm_analysis

WEEKS = (2, 4, 6, 12, 14, 24)


def _three_arm_trial(seed: int, slopes: dict[str, float], n: dict[str, int]) -> pd.DataFrame:
    """A small 2:2:1 trial: change from baseline falls by a common slope plus each arm's own, with a
    subject-level random intercept (compound symmetry) and about 10% of visits missing."""
    rng = np.random.default_rng(seed)
    rows, pid = [], 0
    for arm, slope in slopes.items():
        for _ in range(n[arm]):
            pid += 1
            subject = rng.normal(0, 3)
            rows += [
                {
                    "participant_id": f"P{pid:03d}",
                    "arm": arm,
                    "week": w,
                    "chg": (-0.2 + slope) * w + subject + rng.normal(0, 3),
                }
                for w in WEEKS
                if rng.random() > 0.1
            ]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def trial() -> pd.DataFrame:
    return _three_arm_trial(17, {"IFX10": -0.2, "IFX5": -0.1, "PBO": 0.0}, {"IFX10": 20, "IFX5": 20, "PBO": 10})


def test_it_matches_statsmodels_mixedlm_for_each_dose_vs_placebo_at_the_end_week(trial: pd.DataFrame) -> None:
    # Compound symmetry is a random intercept: statsmodels' REML MixedLM fits the same model by
    # its own code, so the end-week contrasts and their standard errors must agree.
    ours = multiarm_analysis(
        trial, control="PBO", contrasts=["IFX10", "IFX5"], multiplicity="holm", end_week=24, covariance="cs"
    )
    data = trial.assign(arm=pd.Categorical(trial["arm"], ["PBO", "IFX10", "IFX5"]))
    theirs = smf.mixedlm("chg ~ C(arm) * week", data, groups="participant_id").fit(reml=True)
    beta, cov = theirs.fe_params, theirs.cov_params().loc[theirs.fe_params.index, theirs.fe_params.index]
    for contrast in ours.contrasts:
        weights = pd.Series(0.0, index=beta.index)
        weights[f"C(arm)[T.{contrast.arm}]"] = 1.0
        weights[f"C(arm)[T.{contrast.arm}]:week"] = 24.0
        assert contrast.difference == pytest.approx(
            float(weights @ beta), abs=1e-4
        )  # MixedLM stops at its own tolerance
        assert contrast.se == pytest.approx(float(np.sqrt(weights @ cov @ weights)), rel=2e-3)
        assert contrast.slope_difference == pytest.approx(float(beta[f"C(arm)[T.{contrast.arm}]:week"]), abs=1e-5)


def test_holm_adjusts_the_two_contrasts_as_statsmodels_does(trial: pd.DataFrame) -> None:
    result = multiarm_analysis(trial, control="PBO", contrasts=["IFX10", "IFX5"], multiplicity="holm", end_week=24)
    raw = [c.p for c in result.contrasts]
    expected = multipletests(raw, alpha=0.05, method="holm")[1]
    assert [c.p_adjusted for c in result.contrasts] == pytest.approx(list(expected))
    assert [c.significant for c in result.contrasts] == [p < 0.05 for p in expected]
    assert result.arms == ("PBO", "IFX10", "IFX5") and result.n_by_arm == {"IFX10": 20, "IFX5": 20, "PBO": 10}
    assert result.overall_num_df == 4  # two arm terms, two arm x week terms


@pytest.mark.parametrize(
    ("method", "theirs"), [("bonferroni", "bonferroni"), ("holm", "holm"), ("hochberg", "simes-hochberg")]
)
@pytest.mark.parametrize("p", [[0.01, 0.04], [0.03, 0.02, 0.2], [0.5, 0.001, 0.049, 0.02]])
def test_adjusted_p_values_match_statsmodels(method: str, theirs: str, p: list[float]) -> None:
    assert adjust_pvalues(p, method) == pytest.approx(list(multipletests(p, method=theirs)[1]))


def test_hochberg_rejects_both_when_both_are_below_alpha_and_holm_does_not() -> None:
    # Hochberg's step-up: the largest p (0.04) is below alpha, so both are rejected; Holm's step-down
    # needs the smallest (0.03) below alpha / 2 first.
    assert max(adjust_pvalues([0.03, 0.04], "hochberg")) < 0.05
    assert min(adjust_pvalues([0.03, 0.04], "holm")) > 0.05


def test_it_refuses_a_frame_without_the_control_or_with_missing_arms(trial: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="control arm"):
        multiarm_analysis(trial, control="XYZ", contrasts=["IFX10"], multiplicity="none", end_week=24)
    with pytest.raises(ValueError, match="missing"):
        multiarm_analysis(trial.assign(arm=None), control="PBO", contrasts=["IFX10"], multiplicity="none", end_week=24)
    with pytest.raises(ValueError, match="multiplicity"):
        multiarm_analysis(trial, control="PBO", contrasts=["IFX10"], multiplicity="dunnett?", end_week=24)
