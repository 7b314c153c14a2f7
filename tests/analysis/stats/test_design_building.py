"""The design built from distinct rows is patsy's design, row for row.

build_design takes a shortcut for formulas whose factors are columns or C(column, ...): it asks
patsy for the design of the distinct value combinations only. patsy's own dmatrices on the full
frame is the reference; pattern statistics by design profile are checked against the
per-subject sums they replace.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy
import pytest

from analysis.stats import fit_mmrm
from analysis.stats._design import build_design
from analysis.stats._likelihood import pattern_statistics
from analysis.stats.simulate import simulate_trial


@pytest.fixture(scope="module")
def messy() -> pd.DataFrame:
    data = simulate_trial(300, seed=11)
    rng = np.random.default_rng(3)
    data["arm"] = np.where(data["trt"] == 1, "IFX", "PBO")
    data["site"] = pd.Categorical(
        rng.choice(["B", "A", "C"], size=len(data)), categories=["C", "B", "A", "unused"], ordered=True
    )
    data["baseline"] = rng.normal(20, 4, size=len(data))
    data.loc[rng.choice(len(data), 40, replace=False), "chg"] = np.nan
    data.loc[rng.choice(len(data), 25, replace=False), "arm"] = None
    data.loc[rng.choice(len(data), 15, replace=False), "baseline"] = np.nan
    return data.sample(frac=1.0, random_state=1).set_index(pd.Index(np.arange(len(data)) * 3 + 7))


# (formula, built from distinct rows): a continuous covariate makes almost every row distinct,
# so those formulas only get their class columns handed to patsy as Categoricals.
FORMULAS = [
    ("chg ~ C(arm, Treatment('PBO')) * C(week)", True),
    ("chg ~ trt * week", True),
    ("chg ~ C(site) + arm:C(week) + baseline", False),
    ("chg ~ C(arm, Treatment('PBO')) * C(week) + baseline", False),
    ("chg ~ arm * np.log(baseline) + C(week, levels=[12, 10, 8, 6, 4, 3, 2, 1])", False),
    ("chg ~ 1", True),
    ("chg ~ 0 + C(week)", True),
]


@pytest.mark.parametrize(("formula", "distinct"), FORMULAS)
def test_it_builds_patsys_design(formula: str, distinct: bool, messy: pd.DataFrame) -> None:
    env = patsy.EvalEnvironment.capture()
    design = build_design(formula, messy, env)
    assert (design.x_unique is not None) == distinct
    y_ref, x_ref = patsy.dmatrices(formula, messy, eval_env=env, NA_action="drop", return_type="dataframe")
    assert design.column_names == list(x_ref.columns)
    np.testing.assert_array_equal(messy.index[design.kept], x_ref.index)
    np.testing.assert_array_equal(design.x, x_ref.to_numpy())
    np.testing.assert_array_equal(design.y, y_ref.to_numpy().ravel())


def test_formulas_with_functions_take_patsys_general_path(messy: pd.DataFrame) -> None:
    # center() is stateful: evaluated on distinct rows it would centre at the wrong mean.
    env = patsy.EvalEnvironment.capture()
    formula = "chg ~ center(baseline) + trt"
    design = build_design(formula, messy, env)
    assert design.x_unique is None
    _, x_ref = patsy.dmatrices(formula, messy, eval_env=env, NA_action="drop", return_type="dataframe")
    np.testing.assert_allclose(design.x, x_ref.to_numpy())


def test_pattern_statistics_by_profile_equal_the_per_subject_sums(messy: pd.DataFrame) -> None:
    env = patsy.EvalEnvironment.capture()
    design = build_design("chg ~ C(arm, Treatment('PBO')) * C(week)", messy, env)
    rows = messy.iloc[design.kept]
    subject = pd.factorize(rows["id"], sort=True)[0]
    level = rows["vis"].to_numpy() - 1
    fast = pattern_statistics(design.y, design.x, subject, level, 8, design.x_unique, design.row_codes)
    plain = pattern_statistics(design.y, design.x, subject, level, 8)
    # Direct sums over subjects, pattern by pattern.
    for g, mask in enumerate(plain.masks):
        members = np.flatnonzero(plain.subject_pattern == g)
        xx = np.zeros((8, 8, design.x.shape[1], design.x.shape[1]))
        for s in members:
            mine = np.flatnonzero(subject == s)
            for a in mine:
                for b in mine:
                    xx[level[a], level[b]] += np.outer(design.x[a], design.x[b])
        np.testing.assert_allclose(plain.xx[g], xx, atol=1e-9)
        h = next(i for i, m in enumerate(fast.masks) if np.array_equal(m, mask))
        np.testing.assert_allclose(fast.xx[h], plain.xx[g], atol=1e-9)
        np.testing.assert_allclose(fast.xy[h], plain.xy[g], atol=1e-9)
        np.testing.assert_allclose(fast.yy[h], plain.yy[g], atol=1e-9)
        assert fast.counts[h] == plain.counts[g] == len(members)


def test_the_shortcut_does_not_change_the_fit(messy: pd.DataFrame) -> None:
    # Same model, written so that patsy's general path is taken (I() around a column).
    fast = fit_mmrm(messy, "chg ~ trt * week", subject="id", visit="vis", covariance="un")
    general = fit_mmrm(messy, "chg ~ I(trt) * I(week)", subject="id", visit="vis", covariance="un")
    assert fast.neg2_loglik == pytest.approx(general.neg2_loglik, rel=1e-12)
    np.testing.assert_allclose(
        fast.coefficients[["estimate", "se", "df"]].to_numpy(),
        general.coefficients[["estimate", "se", "df"]].to_numpy(),
        rtol=1e-8,
    )
