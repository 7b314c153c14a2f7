"""Fisher scoring (expected Hessian) reaches the REML optimum; the quasi-Newton chain is the fallback."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.stats import fit_mmrm
from analysis.stats.mmrm import numeric_hessian
from analysis.stats.simulate import simulate_trial


@pytest.mark.parametrize("covariance", ["un", "ar1", "toep", "csh"])
def test_it_converges_by_fisher_scoring_to_a_stationary_point(covariance: str) -> None:
    data = simulate_trial(60, seed=2013)
    res = fit_mmrm(data, "chg ~ trt * week", subject="id", visit="vis", covariance=covariance)
    assert res.converged
    assert res.optimizer == "Fisher scoring"
    _, grad = res._objective.value_grad(res._theta, natural=True)
    # SAS's relative criterion at the returned point, with the observed (finite-difference) Hessian.
    hess = numeric_hessian(lambda t: res._objective.value_grad(t, natural=True)[1], res._theta)
    assert float(grad @ np.linalg.solve(hess, grad)) < 1e-8
