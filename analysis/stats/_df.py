"""Denominator degrees of freedom as SAS PROC MIXED computes them.

- between-within (DDFM=BETWITHIN, SAS's default with only a REPEATED statement)
- satterthwaite (DDFM=SATTERTHWAITE; Fai-Cornelius for multi-df F tests)
- residual (DDFM=RESIDUAL: n - rank(X))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analysis.stats.errors import NonPositiveDefiniteCovarianceError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class BetweenWithin:
    """Between/within split of the fixed effects (per design column)."""

    between_df: float
    within_df: float
    column_df: tuple[float, ...]
    column_is_between: tuple[bool, ...]


def between_within(x: FloatArray, subject: IntArray, term_slices: dict[str, slice], all_between: bool) -> BetweenWithin:
    """SAS DDFM=BETWITHIN for a REPEATED-only model.

    An effect constant within every subject gets N_subjects - rank(between part of X); an effect
    that varies within subjects gets N_obs - rank(X) - that between df. With TYPE=UN SAS gives
    every effect the between df (`all_between`).
    """
    order = np.argsort(subject, kind="stable")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, np.diff(subject[order]) != 0])
    spread = np.maximum.reduceat(xs, starts, axis=0) - np.minimum.reduceat(xs, starts, axis=0)
    scale = np.maximum(1.0, np.max(np.abs(x), axis=0))
    col_constant = np.all(spread <= 1e-10 * scale, axis=0)
    # SAS classifies whole effects, not columns: an effect is between-subject only if all of
    # its columns are constant within subject.
    is_between = np.zeros(x.shape[1], dtype=bool)
    for sl in term_slices.values():
        is_between[sl] = bool(np.all(col_constant[sl]))
    n_subjects = len(starts)
    rank_between = int(np.linalg.matrix_rank(x[:, is_between])) if is_between.any() else 0
    between_df = float(n_subjects - rank_between)
    within_df = float(x.shape[0] - np.linalg.matrix_rank(x) - between_df)
    col_df = np.where(is_between | all_between, between_df, within_df)
    return BetweenWithin(
        between_df=between_df,
        within_df=within_df,
        column_df=tuple(float(v) for v in col_df),
        column_is_between=tuple(bool(b) for b in is_between),
    )


def satterthwaite_1d(l_vec: FloatArray, cov_beta: FloatArray, dcov_beta: FloatArray, cov_theta: FloatArray) -> float:
    """nu = 2 (l'Cl)^2 / (g' A g), g_k = l' dC/dtheta_k l, A = asymptotic cov of theta."""
    var = float(l_vec @ cov_beta @ l_vec)
    grad = np.einsum("a,kab,b->k", l_vec, dcov_beta, l_vec)
    denom = float(grad @ cov_theta @ grad)
    if denom <= 0.0:
        # Variance that does not depend on theta: no uncertainty from covariance estimation.
        return float("inf")
    return 2.0 * var * var / denom


def satterthwaite_f(l_mat: FloatArray, cov_beta: FloatArray, dcov_beta: FloatArray, cov_theta: FloatArray) -> float:
    """SAS's multi-df Satterthwaite: spectral decomposition of L C L', E/(E - q) rule."""
    m = l_mat @ cov_beta @ l_mat.T
    _, eigvec = np.linalg.eigh((m + m.T) / 2.0)
    q = l_mat.shape[0]
    nus = [satterthwaite_1d(eigvec[:, i] @ l_mat, cov_beta, dcov_beta, cov_theta) for i in range(q)]
    if q == 1:
        return nus[0]
    e = sum(nu / (nu - 2.0) for nu in nus if nu > 2.0)
    if e > q:
        return float(2.0 * e / (e - q))
    # SAS's fallback when the moment equation has no solution: the smallest single-df nu.
    return float(min(nus))


def covariance_of_theta(hessian: FloatArray) -> FloatArray:
    """Asymptotic covariance of the covariance parameters: 2 H^-1, H = Hessian of -2 l."""
    sym = (hessian + hessian.T) / 2.0
    eig = np.linalg.eigvalsh(sym)
    if eig[0] <= 0.0:
        raise NonPositiveDefiniteCovarianceError(
            "The Hessian of the likelihood with respect to the covariance parameters is not "
            f"positive definite (smallest eigenvalue {eig[0]:.3g}); Satterthwaite df are not "
            "available. Try a simpler covariance structure."
        )
    return np.asarray(2.0 * np.linalg.inv(sym), dtype=float)
