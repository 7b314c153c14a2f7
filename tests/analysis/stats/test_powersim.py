"""The power simulation's statistics against independent computations (no database).

The analytic check: a trial whose treatment shifts every post-baseline visit by `delta`, with
independent residuals (SD sigma) at two visits, analysed by the MMRM `chg ~ trt` (AR(1), between-
within df) is, to within the estimation of one correlation, the two-sample t test on each
participant's mean of two visits (SD sigma / sqrt 2, df 2n - 2). statsmodels' TTestIndPower gives
its exact power; the simulated power must fall within 4 Monte Carlo standard errors of it
(a false alarm about 1 in 16,000; the seeds are fixed, so the result does not vary from run to run).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.power import TTestIndPower
from statsmodels.stats.proportion import proportion_confint

from analysis.stats import powersim
from analysis.stats.errors import StatsError
from analysis.stats.simulate import simulate_crp_trial

SIGMA = 4.0
N_PER_ARM = 15
N_SIMS = 160


def _two_sample_model(delta: float) -> powersim.PowerModel:
    return powersim.PowerModel(
        mean_formula="trt",
        coefficients={"Intercept": -2.0, "trt": delta},
        weeks=(1.0, 2.0),
        residual_cov=((SIGMA**2, 0.0), (0.0, SIGMA**2)),
        baseline_crp_mg_l=(1.0, 2.0, 8.0),
    )


@pytest.mark.parametrize("delta", [0.0, 3.0])
def test_simulated_power_matches_the_two_sample_t_test(delta: float) -> None:
    chunk = powersim.simulate_power_chunk(
        _two_sample_model(delta),
        n_per_arm=N_PER_ARM,
        crp_threshold_mg_l=0.0,
        first=0,
        count=N_SIMS,
        seed=11,
        formula="chg ~ trt",
        covariance="ar1",
        key_term="trt",
    )
    row = powersim.power_table([chunk]).iloc[0]
    analytic = TTestIndPower().power(effect_size=delta / (SIGMA / math.sqrt(2)), nobs1=N_PER_ARM, alpha=0.05)
    mc_se = math.sqrt(analytic * (1 - analytic) / N_SIMS)
    assert row["failed_fits"] == 0
    assert abs(row["power"] - analytic) <= 4 * mc_se, (row["power"], analytic)


def test_chunking_does_not_change_the_simulated_trials() -> None:
    model = _two_sample_model(2.0)
    kw = {"n_per_arm": 6, "crp_threshold_mg_l": 0.0, "seed": 3, "formula": "chg ~ trt", "key_term": "trt"}
    whole = powersim.simulate_power_chunk(model, first=0, count=4, **kw)
    parts = [powersim.simulate_power_chunk(model, first=f, count=2, **kw) for f in (2, 0)]
    assert powersim.power_table([whole]).equals(powersim.power_table(parts))
    assert whole.p_values == parts[1].p_values + parts[0].p_values


def test_enrolment_resamples_only_hs_crp_above_the_threshold() -> None:
    model = _two_sample_model(0.0)
    trial = powersim.simulate_enriched_trial(model, n_per_arm=50, crp_threshold_mg_l=1.5, rng=np.random.default_rng(0))
    assert set(np.round(np.exp(trial["logcrp"]), 6)) <= {2.0, 8.0}
    assert trial.groupby("trt")["id"].nunique().to_dict() == {0.0: 50, 1.0: 50}
    with pytest.raises(StatsError, match="above 9 mg/L"):
        model.eligible_crp(9.0)


def test_the_model_from_a_fit_reproduces_its_coefficients_and_covariance() -> None:
    frame = simulate_crp_trial(60, seed=5)
    res, crp = powersim.fit_moderation_model(frame, active="IFX", control="PBO")
    model = powersim.PowerModel.from_fit(res, baseline_crp_mg_l=crp.tolist())
    again = powersim.PowerModel.from_dict(model.to_dict())
    assert again == model
    assert model.coefficients["trt:week:logcrp"] == pytest.approx(res.coefficients.loc["trt:week:logcrp", "estimate"])
    assert np.allclose(np.asarray(model.residual_cov), res.covariance_matrix.to_numpy())
    # A large simulated trial's mean change at each week and arm follows the fitted coefficients.
    rng = np.random.default_rng(1)
    sim = powersim.simulate_enriched_trial(model, n_per_arm=4000, crp_threshold_mg_l=0.0, rng=rng)
    b = model.coefficients
    at12 = sim.loc[sim["week"] == 12]
    l_ = at12["logcrp"]
    expected = (
        b["Intercept"]
        + b["week"] * 12
        + b["logcrp"] * l_
        + b["I(logcrp ** 2)"] * l_**2
        + b["week:logcrp"] * 12 * l_
        + b["week:I(logcrp ** 2)"] * 12 * l_**2
    )
    control = at12["trt"] == 0
    sd12 = math.sqrt(model.residual_cov[-1][-1])
    assert abs((at12.loc[control, "chg"] - expected[control]).mean()) < 4 * sd12 / math.sqrt(control.sum())


@pytest.mark.parametrize(("k", "n"), [(0, 20), (7, 20), (20, 20), (130, 400)])
def test_the_monte_carlo_interval_is_wilson_s(k: int, n: int) -> None:
    assert powersim.wilson_interval(k, n) == pytest.approx(proportion_confint(k, n, alpha=0.05, method="wilson"))


def test_chunks_cover_every_simulated_trial_once() -> None:
    plan = powersim.plan_chunks([10, 20, 30], n_sims=7, n_chunks=8)
    for n in (10, 20, 30):
        indices = [i for size, first, count in plan if size == n for i in range(first, first + count)]
        assert sorted(indices) == list(range(7))
