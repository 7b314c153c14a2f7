"""Mixed model for repeated measures (MMRM) matching SAS PROC MIXED with a REPEATED statement.

    fit_mmrm(data, "chg ~ trt * week", subject="id", visit="vis", covariance="ar1")

is SAS's

    PROC MIXED METHOD=REML; CLASS id vis; MODEL chg = trt week trt*week / SOLUTION;
    REPEATED vis / SUBJECT=id TYPE=AR(1);

and df="kenward-roger" adds DDFM=KR (Kenward-Roger df and adjusted standard errors).

statsmodels' MixedLM only has sigma^2 I residuals and GEE is a moment method, so the residual
(R-side) covariance model is implemented here: exact REML/ML with beta profiled out, computed from
per-missingness-pattern sufficient statistics (see _likelihood.py) so that one likelihood
evaluation costs the same for 60 or 100,000 subjects.

Optimisation (documented fallback): Fisher scoring on an unconstrained parametrisation with the
analytic gradient and the analytic expected Hessian (from the same pattern statistics), until
g'H_exp^-1g < 1e-10 (SAS's relative-Hessian criterion 1e-8, made 100x stricter because H_exp
approximates the observed Hessian). If that fails: BFGS from the start, then Newton steps with
a finite-difference Hessian until SAS's g'H^-1g < 1e-8 holds; then L-BFGS-B and Nelder-Mead
from the best point so far, each followed by the same Newton polish. If none converges,
ConvergenceError is raised.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import patsy
import scipy.linalg
import scipy.optimize
from numpy.typing import NDArray
from scipy import stats as sps

from analysis.stats import _design
from analysis.stats._covariance import CovarianceStructure, d2sigma_natural, dsigma, make_structure
from analysis.stats._df import (
    BetweenWithin,
    between_within,
    covariance_of_theta,
    kenward_roger_covariance,
    kenward_roger_df,
    satterthwaite_1d,
    satterthwaite_f,
)
from analysis.stats._likelihood import (
    Evaluation,
    PatternStatistics,
    cov_beta_derivatives,
    evaluate,
    expected_hessian,
    gradient,
    kenward_roger_terms,
    pattern_statistics,
)
from analysis.stats.errors import (
    ConvergenceError,
    DegreesOfFreedomError,
    NonPositiveDefiniteCovarianceError,
    NotEstimableError,
    RankDeficientDesignError,
    StatsError,
    VisitLevelError,
)

FloatArray = NDArray[np.float64]
DfMethod = Literal["between-within", "satterthwaite", "residual", "kenward-roger", "kenward-roger-linear"]
Method = Literal["reml", "ml"]

DF_METHODS: tuple[str, ...] = ("between-within", "satterthwaite", "residual", "kenward-roger", "kenward-roger-linear")
KENWARD_ROGER: tuple[str, ...] = ("kenward-roger", "kenward-roger-linear")

#: How a report names each df method (SAS's DDFM= spelling), e.g. in the SAP's methods section.
DF_METHOD_LABELS: dict[str, str] = {
    "between-within": "between-within (SAS DDFM=BETWITHIN)",
    "satterthwaite": "Satterthwaite (SAS DDFM=SATTERTHWAITE)",
    "residual": "residual (SAS DDFM=RESIDUAL)",
    "kenward-roger": "Kenward-Roger, with Kenward-Roger adjusted standard errors (SAS DDFM=KR)",
    "kenward-roger-linear": "Kenward-Roger, with first-order (linear) adjusted standard errors (SAS DDFM=KR(LINEAR))",
}

# SAS's default convergence criterion (relative Hessian): g' H^-1 g < 1e-8.
_CONVERGENCE_CRITERION = 1e-8


@dataclass(frozen=True, eq=False)
class MMRMResult:
    """A fitted MMRM. Tables are DataFrames; everything else is plain numbers.

    Attributes mirror SAS's listing: coefficients ("Solution for Fixed Effects"), neg2_loglik
    ("-2 Res Log Likelihood"), aic/bic ("Fit Statistics"), covariance_parameters ("Covariance
    Parameter Estimates"), covariance_matrix (the R matrix for a subject seen at every level).
    """

    formula: str
    covariance: str
    method: str
    df_method: str
    coefficients: pd.DataFrame
    neg2_loglik: float
    aic: float
    bic: float
    covariance_parameters: dict[str, float]
    covariance_matrix: pd.DataFrame
    converged: bool
    optimizer: str
    n_obs: int
    n_subjects: int
    n_dropped: int
    n_patterns: int
    #: Subjects in the data including those without a usable outcome (SAS's Dimensions table);
    #: BIC's penalty is q log(n_subjects_in_data), as SAS computes it.
    n_subjects_in_data: int
    #: The declared levels of the repeated effect, in order; empty_visit_levels are those
    #: without any analysed outcome (they keep their position, but get no parameters).
    visit_levels: tuple[Any, ...]
    empty_visit_levels: tuple[Any, ...]
    #: Things a reader of the results must know (e.g. a visit level without data).
    warnings: tuple[str, ...]
    # Internals the methods need; not part of the public contract.
    _beta: FloatArray = field(repr=False)
    _cov_beta: FloatArray = field(repr=False)
    _theta: FloatArray = field(repr=False)
    _objective: _Objective = field(repr=False)
    _evaluation: Evaluation = field(repr=False)
    _bw: BetweenWithin = field(repr=False)
    _design_info: patsy.DesignInfo = field(repr=False)
    _data: pd.DataFrame = field(repr=False)
    _x: FloatArray = field(repr=False)
    _eval_env: patsy.EvalEnvironment = field(repr=False)
    _alpha: float = field(repr=False, default=0.05)

    @functools.cached_property
    def _theta_information(self) -> tuple[FloatArray | None, str | None, FloatArray]:
        """(cov(theta) or None, why not, d cov(beta)/d theta), computed on first use only:
        the Hessian costs more than the fit itself for UN, and between-within df need none.
        The asymptotic covariance is in SAS's own (natural) parametrisation."""
        obj, theta = self._objective, self._theta
        cov_theta: FloatArray | None = None
        problem: str | None = None
        try:
            hess = numeric_hessian(lambda t: obj.value_grad(t, natural=True)[1], theta)
            cov_theta = covariance_of_theta(hess)
        except NonPositiveDefiniteCovarianceError as exc:
            problem = str(exc)
        dcov = cov_beta_derivatives(obj.stats, self._evaluation, dsigma(obj.structure, theta, natural=True))
        return cov_theta, problem, dcov

    def _satterthwaite_inputs(self) -> tuple[FloatArray, FloatArray]:
        cov_theta, problem, dcov = self._theta_information
        if cov_theta is None:
            raise NonPositiveDefiniteCovarianceError(problem or "cov(theta) unavailable")
        return cov_theta, dcov

    @functools.cached_property
    def _kenward_roger(self) -> tuple[FloatArray, FloatArray, Any]:
        """(adjusted cov(beta), cov(theta), KR terms) in SAS's natural parametrisation, whose
        second derivatives are what makes DDFM=KR differ from DDFM=KR(LINEAR)."""
        cov_theta, _ = self._satterthwaite_inputs()
        obj, theta = self._objective, self._theta
        terms = kenward_roger_terms(
            obj.stats,
            self._evaluation,
            dsigma(obj.structure, theta, natural=True),
            d2sigma_natural(obj.structure, theta),
        )
        linear = self.df_method == "kenward-roger-linear"
        adjusted = kenward_roger_covariance(self._cov_beta, cov_theta, terms, linear=linear)
        return adjusted, cov_theta, terms

    @property
    def cov_beta(self) -> FloatArray:
        """Covariance of the fixed-effect estimates used for SEs and tests: Kenward-Roger's
        adjusted matrix under the KR df methods, (X'V^-1X)^-1 otherwise."""
        if self.df_method in KENWARD_ROGER:
            return self._kenward_roger[0]
        return self._cov_beta

    @property
    def df_method_label(self) -> str:
        """The df rule in words, for a report's methods section."""
        return DF_METHOD_LABELS[self.df_method]

    def covariance_parameter_se(self) -> dict[str, float]:
        """Asymptotic SEs of the covariance parameters (SAS COVTEST: from 2 H^-1)."""
        cov_theta, _ = self._satterthwaite_inputs()
        se = np.sqrt(np.diag(cov_theta))
        return dict(zip(self.covariance_parameters, map(float, se), strict=True))

    # ----------------------------------------------------------------- linear combinations
    @property
    def term_names(self) -> list[str]:
        return list(self._design_info.column_names)

    def _as_l_matrix(self, l_spec: Any) -> tuple[FloatArray, list[Any]]:
        names = self.term_names
        if isinstance(l_spec, pd.DataFrame):
            unknown = set(l_spec.columns) - set(names)
            if unknown:
                raise NotEstimableError(f"Unknown terms in L: {sorted(unknown)}")
            mat = l_spec.reindex(columns=names, fill_value=0.0).to_numpy(dtype=float)
            return mat, list(l_spec.index)
        if isinstance(l_spec, (Mapping, pd.Series)):
            items = dict(l_spec)
            unknown = set(items) - set(names)
            if unknown:
                raise NotEstimableError(f"Unknown terms in L: {sorted(unknown)}; terms: {names}")
            return np.array([[float(items.get(n, 0.0)) for n in names]]), [0]
        mat = np.atleast_2d(np.asarray(l_spec, dtype=float))
        if mat.shape[1] != len(names):
            raise NotEstimableError(f"L has {mat.shape[1]} columns; the model has {len(names)}.")
        return mat, list(range(mat.shape[0]))

    def _df_for(self, l_mat: FloatArray) -> float:
        if self.df_method == "residual":
            return float(self.n_obs - len(self._beta))
        if self.df_method == "between-within":
            # SAS takes an ESTIMATE's df from one listed effect; for an arbitrary L we take the
            # smallest df among the effects it involves, which is never anti-conservative.
            # Entries below 1e-10 of the largest are round-off from re-parametrisation.
            used = np.any(np.abs(l_mat) > 1e-10 * np.max(np.abs(l_mat)), axis=0)
            dfs = np.asarray(self._bw.column_df)[used]
            return float(dfs.min()) if dfs.size else float(self._bw.between_df)
        if self.df_method in KENWARD_ROGER:
            _, cov_theta, terms = self._kenward_roger
            return kenward_roger_df(l_mat, self._cov_beta, cov_theta, terms)[0]
        cov_theta, dcov = self._satterthwaite_inputs()
        if l_mat.shape[0] == 1:
            return satterthwaite_1d(l_mat[0], self._cov_beta, dcov, cov_theta)
        return satterthwaite_f(l_mat, self._cov_beta, dcov, cov_theta)

    def estimate(self, l_spec: Any, level: float = 0.95) -> pd.DataFrame:
        """Each row of L (array, {term: coef}, Series or DataFrame with term columns) as an
        estimate with SE, df (the model's df method), t, two-sided p and CI."""
        l_mat, labels = self._as_l_matrix(l_spec)
        cov = self.cov_beta
        rows = []
        for i, l_vec in enumerate(l_mat):
            est = float(l_vec @ self._beta)
            se = float(np.sqrt(l_vec @ cov @ l_vec))
            df = self._df_for(l_vec[None, :])
            rows.append(_t_row(labels[i], est, se, df, level))
        return pd.DataFrame(rows).set_index("label")

    def contrast(self, l_spec: Any, level: float = 0.95) -> pd.DataFrame:
        """Alias of estimate(): the rows of L one at a time (SAS ESTIMATE)."""
        return self.estimate(l_spec, level=level)

    def f_test(self, l_spec: Any) -> pd.DataFrame:
        """Joint F test of all rows of L (SAS CONTRAST): num_df, den_df, F, p."""
        l_mat, _ = self._as_l_matrix(l_spec)
        return pd.DataFrame([self._f_row("contrast", l_mat)]).set_index("effect")

    def _f_row(self, name: str, l_mat: FloatArray) -> dict[str, Any]:
        rank = int(np.linalg.matrix_rank(l_mat))
        if rank < l_mat.shape[0]:
            # Keep a full-row-rank basis of the hypothesis (SAS does the same silently).
            _, _, piv = scipy.linalg.qr(l_mat.T, pivoting=True)
            l_mat = l_mat[np.sort(piv[:rank])]
        lb = l_mat @ self._beta
        m = l_mat @ self.cov_beta @ l_mat.T
        f_stat = float(lb @ np.linalg.solve(m, lb)) / rank
        if self.df_method in KENWARD_ROGER:
            # Kenward & Roger (1997, section 4): F on the adjusted covariance, scaled by lambda.
            _, cov_theta, terms = self._kenward_roger
            den, lam = kenward_roger_df(l_mat, self._cov_beta, cov_theta, terms)
            f_stat *= lam
        else:
            den = self._df_for(l_mat)
        _check_df(den, name)
        p = float(sps.f.sf(f_stat, rank, den)) if np.isfinite(den) else float(sps.chi2.sf(f_stat * rank, rank))
        return {"effect": name, "num_df": rank, "den_df": den, "F": f_stat, "p": p}

    def type3(self) -> pd.DataFrame:
        """Type 3 tests of fixed effects (SAS HTYPE=3): class effects averaged with equal
        weights, covariates at 0. `effect` is the patsy term; `sas_effect` SAS's spelling."""
        mats = _design.type3_matrices(self._design_info, self._data, self._x, self._eval_env)
        rows = []
        for name, l_mat in mats.items():
            row = self._f_row(name, l_mat)
            row["sas_effect"] = _design.sas_effect_name(name)
            rows.append(row)
        return pd.DataFrame(rows, columns=["effect", "sas_effect", "num_df", "den_df", "F", "p"])

    def lsmean_weights(self, specs: str | Sequence[str], at: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """The L matrix behind lsmeans(): one row per level combination, one column per term."""
        variables = _design.formula_variables(self._design_info, list(self._data.columns))
        return _design.lsmean_weights(self._design_info, self._data, variables, specs, at)

    def lsmeans(
        self, specs: str | Sequence[str], at: Mapping[str, Any] | None = None, level: float = 0.95
    ) -> pd.DataFrame:
        """LS-means (SAS LSMEANS): equal weights over class levels, covariates at their means
        over the analysis rows unless `at` gives values. `specs` like "AVISIT*ARMCD"."""
        weights = self.lsmean_weights(specs, at)
        out = self.estimate(weights.reset_index(drop=True), level=level)
        out.index = weights.index
        return out

    def predict(self, newdata: pd.DataFrame) -> pd.DataFrame:
        """Marginal predictions X beta for new rows, with their standard errors."""
        x_new = np.asarray(
            patsy.build_design_matrices([self._design_info], newdata, NA_action="raise")[0],
            dtype=float,
        )
        pred = x_new @ self._beta
        se = np.sqrt(np.einsum("ia,ab,ib->i", x_new, self.cov_beta, x_new))
        return pd.DataFrame({"prediction": pred, "se": se}, index=newdata.index)

    def design_row(self, values: Mapping[str, Any]) -> pd.Series:
        """One design row for the given variable values (all formula variables needed)."""
        return self.design_rows(pd.DataFrame({k: [v] for k, v in values.items()})).iloc[0]

    def design_rows(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Design rows for many sets of variable values at once (one patsy pass, not one per row)."""
        rows = patsy.build_design_matrices([self._design_info], frame, return_type="dataframe")[0]
        return rows.reset_index(drop=True)


def _t_row(label: Any, est: float, se: float, df: float, level: float) -> dict[str, Any]:
    _check_df(df, label)
    t = est / se if se > 0 else float("inf")
    # Module-level ppf/sf: building a frozen distribution per row costs ~1 ms.
    if np.isfinite(df):
        q = float(sps.t.ppf(0.5 + level / 2.0, df))
        p = float(2.0 * sps.t.sf(abs(t), df))
    else:
        q = float(sps.norm.ppf(0.5 + level / 2.0))
        p = float(2.0 * sps.norm.sf(abs(t)))
    return {
        "label": label,
        "estimate": est,
        "se": se,
        "df": df,
        "t": t,
        "p": p,
        "ci_low": est - q * se,
        "ci_high": est + q * se,
    }


def _check_df(df: float, what: Any) -> None:
    if not df > 0:  # also NaN
        raise DegreesOfFreedomError(
            f"The denominator degrees of freedom for {what!r} are {df:g}: no p-value or "
            "confidence interval exists. Between-within df are 0 when the design leaves no "
            "subjects (or observations) beyond its between- (or within-) subject effects; use "
            "fewer terms, more data, or df='satterthwaite' / 'kenward-roger'."
        )


# --------------------------------------------------------------------------------- fitting
@dataclass(frozen=True, eq=False)
class _Prepared:
    data: pd.DataFrame
    y: FloatArray
    x: FloatArray
    design_info: patsy.DesignInfo
    subject_codes: NDArray[np.intp]
    level_codes: NDArray[np.intp]
    level_labels: list[Any]
    coordinates: FloatArray
    n_dropped: int
    declared_levels: list[Any]
    empty_levels: list[Any]
    n_subjects_in_data: int
    obs_coords: FloatArray | None
    x_unique: FloatArray | None
    row_codes: NDArray[np.intp] | None
    r_factor: FloatArray


#: Structures whose covariance depends on the order of the visit levels (SAS: the position of
#: the level among the sorted class levels of the REPEATED effect).
ORDER_DEPENDENT: frozenset[str] = frozenset({"ar1", "arh1", "toep", "toeph", "ante1"})


def visit_levels(values: pd.Series, covariance: str, visit_order: Sequence[Any] | None = None) -> list[Any]:
    """The declared levels of the repeated effect, in order, from every row of the data.

    Order comes from `visit_order`, else an ordered Categorical's categories, else sorted
    numbers. Text (or an unordered Categorical) sorts alphabetically ("Week 10" before "Week 2"),
    so it is refused for structures where order matters; for UN, CS and CSH the order only
    labels the parameters. Levels come from all rows, including rows whose outcome is missing,
    as SAS takes class levels from all rows: a level without outcomes keeps its position.
    """
    present = values.dropna()
    name = values.name
    if visit_order is not None:
        order = list(visit_order)
        if len(set(order)) != len(order):
            raise VisitLevelError(f"visit_order repeats a level: {order}")
        unknown = sorted(set(present.unique()) - set(order), key=str)
        if unknown:
            raise VisitLevelError(f"{name!r} has values not in visit_order: {unknown[:5]}")
        return order
    if isinstance(values.dtype, pd.CategoricalDtype):
        if values.cat.ordered or covariance not in ORDER_DEPENDENT:
            return list(values.cat.categories)
    elif pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return sorted(present.unique().tolist())
    elif covariance not in ORDER_DEPENDENT:
        return sorted(present.unique().tolist(), key=str)
    raise VisitLevelError(
        f"The visit column {name!r} is text (or an unordered Categorical), whose sorted order "
        f"{sorted(present.unique().tolist(), key=str)[:4]}... need not be the visit order; "
        f"covariance {covariance!r} depends on that order. Pass visit_order=[...], an ordered "
        "pandas Categorical, or numeric visits."
    )


def _prepare(
    data: pd.DataFrame,
    formula: str,
    subject: str,
    visit: str,
    time: str | Sequence[str] | None,
    covariance: str,
    eval_env: patsy.EvalEnvironment,
    visit_order: Sequence[Any] | None = None,
) -> _Prepared:
    time_columns = [] if time is None else ([time] if isinstance(time, str) else list(time))
    for col in [subject, visit, *time_columns]:
        if col not in data.columns:
            raise VisitLevelError(f"Column {col!r} is not in the data.")
    if covariance == "sp_pow" and len(time_columns) != 1:
        raise VisitLevelError("covariance='sp_pow' needs time= one column (SAS SP(POW)(time)).")
    if covariance == "sp_exp" and not time_columns:
        raise VisitLevelError("covariance='sp_exp' needs time= its coordinate column(s) (SAS SP(EXP)(c1 c2 ...)).")
    if covariance not in ("sp_pow", "sp_exp") and time_columns:
        raise VisitLevelError("time= is only used by covariance='sp_pow' and 'sp_exp'.")
    frame = data.reset_index(drop=True)
    n_input = len(frame)
    keys = [subject, visit, *time_columns]
    frame = frame.loc[frame[keys].notna().all(axis=1)]
    # SAS's Dimensions table counts every subject read, with or without a usable outcome; its
    # BIC penalty uses that count.
    n_subjects_in_data = int(frame[subject].nunique())
    declared: list[Any] = [] if covariance == "sp_pow" else visit_levels(frame[visit], covariance, visit_order)
    try:
        design = _design.build_design(formula, frame, eval_env)
    except patsy.PatsyError as exc:
        raise StatsError(f"Cannot build the design from {formula!r}: {exc}") from exc
    frame = frame.iloc[design.kept].reset_index(drop=True)
    n_dropped = n_input - len(frame)
    if len(frame) == 0:
        raise StatsError("No complete rows remain after dropping missing outcome/covariates.")
    x = design.x
    # The distinct rows span the same space as X: checking them is the same check, cheaper.
    r_factor = _check_rank(design.x_unique if design.x_unique is not None else x, design.column_names)

    subject_codes, _ = pd.factorize(frame[subject], sort=True)
    obs_coords: FloatArray | None = None
    if covariance == "sp_exp":
        values = frame[time_columns].apply(pd.to_numeric, errors="coerce")
        if values.isna().any().any():
            raise VisitLevelError(f"Coordinate columns {time_columns} must be numeric for SP(EXP).")
        obs_coords = values.to_numpy(dtype=float)
    if covariance == "sp_pow":
        time = time_columns[0]
        times = pd.to_numeric(frame[time], errors="coerce")
        if times.isna().any():
            raise VisitLevelError(f"time column {time!r} must be numeric for SP(POW).")
        level_codes, uniques = pd.factorize(times, sort=True)
        labels: list[Any] = list(uniques)
        coords = np.asarray(uniques, dtype=float)
        if len(labels) > 2000:
            raise VisitLevelError(f"SP(POW) with {len(labels)} distinct times is not supported (limit 2000).")
        dup_keys = [subject, time]
    else:
        seen = set(frame[visit].unique())
        positions = [i for i, lvl in enumerate(declared) if lvl in seen]
        labels = [declared[i] for i in positions]
        lookup = {lvl: i for i, lvl in enumerate(labels)}
        level_codes = frame[visit].map(lookup).to_numpy()
        # Positions among the declared levels: a level without data leaves a gap (SAS AR(1)).
        coords = np.asarray(positions, dtype=float)
        dup_keys = [subject, visit]
    # A repeated (subject, level) pair shows as a repeated code pair: cheap to test, and the
    # frame is only searched when there is one.
    pair_codes = np.asarray(subject_codes, dtype=np.int64) * max(len(labels), 1) + np.asarray(level_codes)
    if pd.Series(pair_codes).duplicated().any():
        dups = frame.duplicated(dup_keys, keep=False)
        first = frame.loc[dups, dup_keys].iloc[0].tolist()
        raise VisitLevelError(
            f"{int(dups.sum())} rows repeat a (subject, {dup_keys[1]}) pair, e.g. {first}: each "
            "subject may have at most one row per repeated-effect level."
        )
    if len(labels) < 2 and covariance not in ("cs",):
        raise VisitLevelError(
            f"The repeated effect {visit!r} has {len(labels)} level(s); covariance {covariance!r} needs at least 2."
        )
    return _Prepared(
        data=frame,
        y=design.y,
        x=x,
        design_info=design.design_info,
        x_unique=design.x_unique,
        row_codes=design.row_codes,
        r_factor=r_factor,
        subject_codes=np.asarray(subject_codes, dtype=np.intp),
        level_codes=np.asarray(level_codes, dtype=np.intp),
        level_labels=labels,
        coordinates=coords,
        n_dropped=n_dropped,
        declared_levels=declared if declared else labels,
        empty_levels=[lvl for lvl in declared if lvl not in set(labels)],
        n_subjects_in_data=n_subjects_in_data,
        obs_coords=obs_coords,
    )


def _mean_coordinate_sigma(structure: CovarianceStructure, theta: FloatArray, stats: PatternStatistics) -> FloatArray:
    assert stats.coordinates is not None
    weights = stats.counts[:, None] * stats.masks  # (P, m): subjects observed at each level
    mean = np.einsum("pm,pmd->md", weights, stats.coordinates) / np.maximum(weights.sum(axis=0), 1.0)[:, None]
    at_mean = make_structure(structure.code, structure.n_levels, structure.coordinates, mean[None, :, :])
    return np.asarray(at_mean.sigma(theta)[0], dtype=float)


def _check_rank(x: FloatArray, names: list[str]) -> FloatArray:
    """Raise if X is rank deficient; else return R of X = QR (columns in X's order), which has
    X's column ranks at p x p: between-within df take their ranks from it."""
    # Pivoted QR names the aliased columns, which is what a user needs to fix the formula.
    r, piv = scipy.linalg.qr(x, mode="r", pivoting=True)
    r = r[: x.shape[1]]
    diag = np.abs(np.diag(r))
    tol = diag.max() * max(x.shape) * np.finfo(float).eps if diag.size else 0.0
    rank = int(np.sum(diag > tol))
    if rank < x.shape[1]:
        aliased = [names[i] for i in piv[rank:]]
        raise RankDeficientDesignError(
            f"The fixed-effects design has rank {rank} < {x.shape[1]} columns; aliased: "
            f"{aliased}. Remove redundant terms or check for empty cells."
        )
    return np.asarray(r[:, np.argsort(piv)], dtype=float)


def _check_identifiable(stats: PatternStatistics, structure: CovarianceStructure, labels: list[Any]) -> None:
    if structure.code in ("un",):
        together = np.einsum("p,pj,pk->jk", stats.counts, stats.masks, stats.masks)
        missing = np.argwhere(together == 0)
        if missing.size:
            j, k = missing[0]
            raise VisitLevelError(
                f"Unstructured covariance between levels {labels[j]!r} and {labels[k]!r} is not "
                "estimable: no subject is observed at both."
            )
    if structure.n_params >= stats.n_obs:
        raise VisitLevelError(f"{structure.n_params} covariance parameters for {stats.n_obs} observations.")


def _empirical_covariance(stats: PatternStatistics) -> FloatArray:
    """Pairwise-complete covariance of OLS residuals, for starting values."""
    m = stats.masks.shape[1]
    ev = evaluate(stats, np.eye(m), reml=False)
    pairs = np.einsum("p,pj,pk->jk", stats.counts, stats.masks, stats.masks)
    summed = ev.residual_cross.sum(axis=0)
    emp = np.where(pairs > 0, summed / np.maximum(pairs, 1.0), 0.0)
    diag = np.diag(emp).copy()
    diag[diag <= 0] = max(float(np.mean(diag[diag > 0])) if np.any(diag > 0) else 1.0, 1e-8)
    np.fill_diagonal(emp, diag)
    return np.asarray(emp, dtype=float)


@dataclass
class _Objective:
    stats: PatternStatistics
    structure: CovarianceStructure
    reml: bool
    n_evals: int = 0

    def value_grad(self, params: FloatArray, natural: bool) -> tuple[float, FloatArray]:
        theta = params if natural else self.structure.to_natural(params)
        ev = evaluate(self.stats, self.structure.sigma(theta), self.reml)
        self.n_evals += 1
        ds = dsigma(self.structure, params, natural=natural)
        return ev.objective, gradient(self.stats, ev, self.reml, ds)

    def value_grad_info(self, phi: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        """-2RLL, its gradient and the expected Hessian, in the unconstrained parametrisation."""
        ev = evaluate(self.stats, self.structure.sigma(self.structure.to_natural(phi)), self.reml)
        self.n_evals += 1
        ds = dsigma(self.structure, phi, natural=False)
        return ev.objective, gradient(self.stats, ev, self.reml, ds), expected_hessian(self.stats, ev, ds)

    def safe(self, phi: FloatArray) -> tuple[float, FloatArray]:
        # The optimiser may wander to numerically singular matrices; +inf makes it backtrack.
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                val, grad = self.value_grad(phi, natural=False)
        except (NonPositiveDefiniteCovarianceError, np.linalg.LinAlgError, FloatingPointError):
            return float("inf"), np.zeros_like(phi)
        if not np.isfinite(val) or not np.all(np.isfinite(grad)):
            return float("inf"), np.zeros_like(phi)
        scale = float(self.stats.n_obs)
        return val / scale, grad / scale


def numeric_hessian(grad: Callable[[FloatArray], FloatArray], x0: FloatArray, rel_step: float = 1e-4) -> FloatArray:
    """Central differences of an analytic gradient; symmetrised."""
    k = len(x0)
    h_mat = np.empty((k, k))
    for i in range(k):
        h = rel_step * max(abs(float(x0[i])), 1e-2)
        up = x0.copy()
        dn = x0.copy()
        up[i] += h
        dn[i] -= h
        h_mat[:, i] = (grad(up) - grad(dn)) / (2.0 * h)
    return (h_mat + h_mat.T) / 2.0


def _newton_polish(obj: _Objective, phi: FloatArray, max_iter: int = 30) -> tuple[FloatArray, float]:
    """Newton steps with backtracking; returns the point and SAS's criterion g'H^-1g."""
    crit = float("inf")
    val, grad = obj.value_grad(phi, natural=False)
    for _ in range(max_iter):
        hess = numeric_hessian(lambda p: obj.value_grad(p, natural=False)[1], phi)
        eig = np.linalg.eigvalsh(hess)
        if eig[0] <= 1e-10 * max(1.0, abs(eig[-1])):
            # Not locally convex: shift the spectrum so the step is still a descent direction.
            hess = hess + (abs(eig[0]) + 1e-6 * max(1.0, abs(eig[-1]))) * np.eye(len(phi))
        step = -np.linalg.solve(hess, grad)
        crit = float(-grad @ step)
        if crit < _CONVERGENCE_CRITERION * 1e-2:
            break
        t = 1.0
        while t > 1e-8:
            cand = phi + t * step
            try:
                cval, cgrad = obj.value_grad(cand, natural=False)
            except (NonPositiveDefiniteCovarianceError, np.linalg.LinAlgError):
                t /= 2.0
                continue
            if np.isfinite(cval) and cval <= val + 1e-4 * t * float(grad @ step):
                phi, val, grad = cand, cval, cgrad
                break
            t /= 2.0
        else:
            break
    return phi, crit


def _fisher_scoring(obj: _Objective, phi: FloatArray, max_iter: int = 60) -> tuple[FloatArray, bool]:
    """Fisher scoring with backtracking: steps -H_exp^-1 g with the expected Hessian.

    From the pairwise-covariance start this needs ~5-15 steps where BFGS needs ~150 for UN,
    because the expected Hessian already carries the scaling of the 36 UN parameters. Converged
    when g'H_exp^-1g < 1e-10: SAS's relative-Hessian criterion made 100x stricter, because the
    expected Hessian only approximates the observed one (as for BFGS's inverse below).
    """
    val, grad, info = obj.value_grad_info(phi)
    for _ in range(max_iter):
        try:
            step = -scipy.linalg.solve(info, grad, assume_a="pos")
        except (np.linalg.LinAlgError, ValueError):
            return phi, False
        crit = float(-grad @ step)
        if not np.isfinite(crit) or crit < 0:
            return phi, False
        if crit < _CONVERGENCE_CRITERION * 1e-2:
            return phi, True
        t = 1.0
        while t > 1e-6:
            cand = phi + t * step
            try:
                cval, cgrad, cinfo = obj.value_grad_info(cand)
            except (NonPositiveDefiniteCovarianceError, np.linalg.LinAlgError):
                t /= 2.0
                continue
            if np.isfinite(cval) and np.all(np.isfinite(cgrad)) and cval <= val + 1e-4 * t * float(grad @ step):
                phi, val, grad, info = cand, cval, cgrad, cinfo
                break
            t /= 2.0
        else:
            return phi, False
    return phi, False


def _optimise(obj: _Objective, phi0: FloatArray) -> tuple[FloatArray, bool, str]:
    # Fisher scoring first (few, well-scaled steps); on failure the quasi-Newton chain below
    # starts again from the original start, so a bad scoring path cannot make things worse.
    try:
        phi, ok = _fisher_scoring(obj, phi0)
    except (NonPositiveDefiniteCovarianceError, np.linalg.LinAlgError, FloatingPointError):
        ok = False
    if ok:
        return phi, True, "Fisher scoring"
    # BFGS first: scipy's L-BFGS-B costs ~1 ms per iteration in overhead, more than one of our
    # likelihood evaluations; it stays as the first fallback.
    chain: list[tuple[str, dict[str, Any]]] = [
        ("BFGS", {"maxiter": 2000, "gtol": 1e-7}),
        ("L-BFGS-B", {"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10}),
        ("Nelder-Mead", {"maxiter": 20000, "xatol": 1e-10, "fatol": 1e-14}),
    ]
    best = phi0
    best_val = obj.safe(phi0)[0]
    for name, options in chain:
        jac = name != "Nelder-Mead"
        fun: Callable[[FloatArray], Any] = obj.safe if jac else (lambda p: obj.safe(p)[0])
        try:
            res = scipy.optimize.minimize(fun, best, jac=jac, method=name, options=options)
        except (ValueError, FloatingPointError):
            continue
        if np.isfinite(res.fun) and res.fun <= best_val:
            best, best_val = np.asarray(res.x, dtype=float), float(res.fun)
            hess_inv = getattr(res, "hess_inv", None)
            if name == "BFGS" and isinstance(hess_inv, np.ndarray) and res.success:
                # SAS's criterion with BFGS's own inverse Hessian (objective scaled by 1/n);
                # 100x stricter than SAS because that Hessian is only an approximation.
                g = np.asarray(res.jac, dtype=float)
                if obj.stats.n_obs * float(g @ hess_inv @ g) < _CONVERGENCE_CRITERION * 1e-2:
                    return best, True, name
        try:
            polished, crit = _newton_polish(obj, best)
        except (NonPositiveDefiniteCovarianceError, np.linalg.LinAlgError):
            continue
        best = polished
        best_val = obj.safe(best)[0]
        if crit < _CONVERGENCE_CRITERION:
            return best, True, name
        if obj.structure.boundary_problem(obj.structure.to_natural(best)) is not None:
            # Heading for a singular matrix: other optimisers would only follow it further.
            break
    return best, False, "none"


def fit_mmrm(
    data: pd.DataFrame,
    formula: str,
    *,
    subject: str,
    visit: str,
    covariance: str = "ar1",
    time: str | Sequence[str] | None = None,
    method: Method = "reml",
    df: DfMethod = "between-within",
    parms: Mapping[str, float] | None = None,
    eval_env: int | patsy.EvalEnvironment = 0,
    visit_order: Sequence[Any] | None = None,
) -> MMRMResult:
    """Fit an MMRM with a residual covariance over the levels of `visit` (SAS REPEATED).

    `covariance`: ar1, arh1, cs, csh, toep, toeph, ante1, un, sp_pow (SP(POW)(time): `time` is
    the time column), sp_exp (SP(EXP)(c1 c2 ...): `time` is the coordinate column or columns,
    which may differ between subjects). `method`: reml or ml. `df`: between-within (SAS
    default), satterthwaite, residual, kenward-roger (DDFM=KR), kenward-roger-linear
    (DDFM=KR(LINEAR)); KR needs REML.
    `visit_order`: the visit levels in order. Without it the order comes from an ordered
    Categorical or numeric visits; text visits are refused for ar1, arh1, toep, toeph and ante1
    (see visit_levels). Declared levels without any outcome keep their position and are listed
    in res.empty_visit_levels.
    `parms`: hold the covariance parameters at these values instead of estimating them (SAS
    PARMS ... / NOITER), keyed by res.covariance_parameters names; used to check the algebra
    against SAS at SAS's own printed estimates.
    Rows with a missing outcome, covariate, subject or visit are dropped (res.n_dropped).
    `eval_env`: patsy evaluation environment depth for functions used in the formula
    (0 = the caller's frame).
    """
    if method not in ("reml", "ml"):
        raise ValueError(f"method must be 'reml' or 'ml', not {method!r}")
    if df not in DF_METHODS:
        raise ValueError(f"df must be one of {DF_METHODS}, not {df!r}")
    if df in KENWARD_ROGER and method != "reml":
        raise ValueError("Kenward-Roger df and standard errors are defined for REML only (as in SAS).")
    env = eval_env if isinstance(eval_env, patsy.EvalEnvironment) else patsy.EvalEnvironment.capture(eval_env + 1)
    prep = _prepare(data, formula, subject, visit, time, covariance, env, visit_order)
    stats = pattern_statistics(
        prep.y,
        prep.x,
        prep.subject_codes,
        prep.level_codes,
        len(prep.level_labels),
        x_unique=prep.x_unique,
        row_codes=prep.row_codes,
        coords=prep.obs_coords,
    )
    structure = make_structure(covariance, len(prep.level_labels), prep.coordinates, stats.coordinates)
    _check_identifiable(stats, structure, prep.level_labels)
    reml = method == "reml"
    obj = _Objective(stats, structure, reml)

    if parms is not None:
        missing = set(structure.param_names) ^ set(parms)
        if missing:
            raise ValueError(f"parms must name exactly {list(structure.param_names)}; mismatch: {sorted(missing)}")
        theta = np.array([float(parms[n]) for n in structure.param_names])
        converged, optimizer = True, "held (parms)"
    else:
        theta0 = structure.start(_empirical_covariance(stats))
        # Trial points far out in the unconstrained space overflow harmlessly (they are
        # rejected as +inf); keep numpy quiet about it.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            phi_hat, converged, optimizer = _optimise(obj, structure.to_unconstrained(theta0))
        if not converged:
            problem = structure.boundary_problem(structure.to_natural(phi_hat))
            if problem is not None:
                raise NonPositiveDefiniteCovarianceError(
                    f"The {covariance!r} covariance estimate runs to the boundary of the "
                    f"parameter space ({problem}) without converging: the structure does not fit "
                    "these data (SAS: 'not positive definite')."
                )
            raise ConvergenceError(
                "The likelihood optimisation did not converge (BFGS, L-BFGS-B and Nelder-Mead, "
                f"each followed by Newton steps) for covariance {covariance!r}. Try a simpler "
                "structure."
            )
        theta = structure.to_natural(phi_hat)
    problem = structure.boundary_problem(theta)
    if problem is not None:
        raise NonPositiveDefiniteCovarianceError(
            f"The estimated {covariance!r} covariance is on the boundary of the parameter space "
            f"({problem}); SAS would report it as not positive definite."
        )
    sigma = structure.sigma(theta)
    # SP(EXP) with per-subject coordinates: report the matrix at each level's mean coordinates.
    reported = _mean_coordinate_sigma(structure, theta, stats) if sigma.ndim == 3 else sigma
    ev: Evaluation = evaluate(stats, sigma, reml)

    warnings: list[str] = []
    if prep.empty_levels:
        warnings.append(
            f"Visit level(s) {list(prep.empty_levels)} of {visit!r} have no analysed outcome: they keep "
            "their position in the visit order (as in SAS) but have no covariance parameters."
        )
    term_slices = _design.term_columns(prep.design_info)
    bw = between_within(
        prep.x,
        prep.subject_codes,
        term_slices,
        all_between=covariance == "un",
        x_unique=prep.x_unique,
        row_codes=prep.row_codes,
        rank_basis=prep.r_factor,
    )
    n_cov = structure.n_params
    n_par = n_cov if reml else n_cov + prep.x.shape[1]
    neg2 = ev.objective
    names = list(prep.design_info.column_names)
    result = MMRMResult(
        formula=formula,
        covariance=covariance,
        method=method,
        df_method=df,
        coefficients=pd.DataFrame(),
        neg2_loglik=neg2,
        aic=neg2 + 2.0 * n_par,
        bic=neg2 + n_par * float(np.log(prep.n_subjects_in_data)),
        covariance_parameters=dict(zip(structure.param_names, map(float, theta), strict=True)),
        covariance_matrix=pd.DataFrame(reported, index=prep.level_labels, columns=prep.level_labels),
        converged=converged,
        optimizer=optimizer,
        n_obs=stats.n_obs,
        n_subjects=stats.n_subjects,
        n_dropped=prep.n_dropped,
        n_patterns=len(stats.counts),
        n_subjects_in_data=prep.n_subjects_in_data,
        visit_levels=tuple(prep.declared_levels),
        empty_visit_levels=tuple(prep.empty_levels),
        warnings=tuple(warnings),
        _beta=ev.beta,
        _cov_beta=ev.cov_beta,
        _theta=theta,
        _objective=obj,
        _evaluation=ev,
        _bw=bw,
        _design_info=prep.design_info,
        _data=prep.data,
        _x=prep.x,
        _eval_env=env,
    )
    coefs = result.estimate(np.eye(len(names)))
    coefs.index = pd.Index(names, name="term")
    object.__setattr__(result, "coefficients", coefs)
    return result


# ------------------------------------------------------------------------ difference curves
@dataclass(frozen=True, eq=False)
class DifferenceCurve:
    """Active-minus-control difference along a covariate, with CIs and zero crossings."""

    table: pd.DataFrame
    crossings: tuple[float, ...]


def difference_curve(
    res: MMRMResult,
    *,
    over: str,
    values: Sequence[float],
    arm: str,
    active: Any,
    control: Any,
    at: Mapping[str, Any],
    level: float = 0.95,
) -> DifferenceCurve:
    """Estimate (arm=active) - (arm=control) at each value of `over`, other variables at `at`.

    Example (protocol, moderation): the infliximab-minus-placebo change at week 12 against log
    baseline hs-CRP: difference_curve(res, over="logcrp", values=grid, arm="trt", active=1,
    control=0, at={"week": 12}). Crossings are the `over` values where the estimate is 0,
    located by Brent's method between grid points where it changes sign.
    """

    def l_row(v: float) -> pd.Series:
        base = dict(at)
        base[over] = v
        hi = res.design_row({**base, arm: active})
        lo = res.design_row({**base, arm: control})
        return hi - lo

    grid = [float(v) for v in values]
    # The whole grid in one pass per arm: a row-by-row build costs a patsy call per point.
    points = pd.DataFrame({**{k: [v] * len(grid) for k, v in at.items()}, over: grid})
    l_frame = res.design_rows(points.assign(**{arm: active})) - res.design_rows(points.assign(**{arm: control}))
    table = res.estimate(l_frame.reset_index(drop=True), level=level).reset_index(drop=True)
    table.insert(0, over, grid)

    def point(v: float) -> float:
        return float(l_row(v) @ res._beta)

    crossings = []
    est = table["estimate"].to_numpy()
    for i in range(len(grid) - 1):
        if est[i] == 0.0:
            crossings.append(grid[i])
        elif est[i] * est[i + 1] < 0.0:
            crossings.append(float(scipy.optimize.brentq(point, grid[i], grid[i + 1], xtol=1e-12)))
    if len(grid) and est[-1] == 0.0:
        crossings.append(grid[-1])
    return DifferenceCurve(table=table, crossings=tuple(crossings))
