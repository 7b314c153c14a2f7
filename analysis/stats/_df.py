"""Denominator degrees of freedom as SAS PROC MIXED computes them.

- between-within (DDFM=BETWITHIN, SAS's default with only a REPEATED statement)
- satterthwaite (DDFM=SATTERTHWAITE; Fai-Cornelius for multi-df F tests)
- residual (DDFM=RESIDUAL: n - rank(X))
- kenward-roger and kenward-roger-linear (DDFM=KR, DDFM=KR(LINEAR)): Kenward & Roger (1997)
  df and adjusted covariance of the fixed effects
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analysis.stats._likelihood import KenwardRogerTerms
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


def between_within(
    x: FloatArray,
    subject: IntArray,
    term_slices: dict[str, slice],
    all_between: bool,
    x_unique: FloatArray | None = None,
    row_codes: IntArray | None = None,
    rank_basis: FloatArray | None = None,
) -> BetweenWithin:
    """SAS DDFM=BETWITHIN for a REPEATED-only model.

    An effect constant within every subject gets N_subjects - rank(between part of X); an effect
    that varies within subjects gets N_obs - rank(X) - that between df. With TYPE=UN SAS gives
    every effect the between df (`all_between`). `x_unique` (the distinct rows of X, if known,
    with X = x_unique[row_codes]) has the same ranks as X and is cheaper to decompose; so has
    `rank_basis`, any matrix with X's row space (R of X = QR).
    """
    n_subjects = int(subject.max()) + 1 if len(subject) else 0
    # Compare every row with one reference row of its subject (whichever the scatter keeps).
    reference = np.empty(n_subjects, dtype=np.intp)
    reference[subject] = np.arange(len(subject), dtype=np.intp)
    ref_row = reference[subject]
    if x_unique is not None and row_codes is not None:
        # Only the distinct (reference row, row) design-row pairs need comparing.
        u = x_unique.shape[0]
        pairs = np.unique(row_codes[ref_row].astype(np.int64) * u + row_codes)
        left, right = x_unique[pairs // u], x_unique[pairs % u]
        scale = np.maximum(1.0, np.max(np.abs(x_unique), axis=0))
        col_constant = np.all(np.abs(left - right) <= 1e-10 * scale, axis=0)
    else:
        col_constant = np.zeros(x.shape[1], dtype=bool)
        for c in range(x.shape[1]):
            # Column by column keeps the temporaries at one column of X.
            values = np.ascontiguousarray(x[:, c])
            tol = 1e-10 * max(1.0, float(np.max(np.abs(values))))
            col_constant[c] = bool(np.all(np.abs(values - values[ref_row]) <= tol))
    # SAS classifies whole effects, not columns: an effect is between-subject only if all of
    # its columns are constant within subject.
    is_between = np.zeros(x.shape[1], dtype=bool)
    for sl in term_slices.values():
        is_between[sl] = bool(np.all(col_constant[sl]))
    basis = rank_basis if rank_basis is not None else (x if x_unique is None else x_unique)
    rank_between = int(np.linalg.matrix_rank(basis[:, is_between])) if is_between.any() else 0
    between_df = float(n_subjects - rank_between)
    within_df = float(x.shape[0] - np.linalg.matrix_rank(basis) - between_df)
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


def kenward_roger_covariance(
    cov_beta: FloatArray, cov_theta: FloatArray, terms: KenwardRogerTerms, linear: bool
) -> FloatArray:
    """Kenward & Roger's (1997, eq. 3) adjusted covariance of beta-hat:

        Phi_A = Phi + 2 Phi [sum_ij W_ij (Q_ij - P_i Phi P_j - R_ij / 4)] Phi

    with W the asymptotic covariance of the covariance parameters. `linear` drops the R_ij
    terms: SAS DDFM=KR(LINEAR), whose SEs SAS labels Prasad-Rao-Jeske-Kackar-Harville.
    """
    phi = cov_beta
    pp = np.einsum("iab,bc,jcd->ijad", terms.p, phi, terms.p)
    inner = terms.q - pp
    if not linear:
        inner = inner - 0.25 * terms.r
    total = np.einsum("ij,ijab->ab", cov_theta, inner)
    adjusted = phi + 2.0 * phi @ total @ phi
    return np.asarray((adjusted + adjusted.T) / 2.0, dtype=float)


def kenward_roger_df(
    l_mat: FloatArray, cov_beta: FloatArray, cov_theta: FloatArray, terms: KenwardRogerTerms
) -> tuple[float, float]:
    """Kenward & Roger's (1997, section 4) denominator df m and F scale lambda for H0: L beta = 0.

    A1, A2 use the unadjusted Phi, as SAS and the R package mmrm do; for one row of L,
    lambda is 1 and m is the t test's df.
    """
    q = l_mat.shape[0]
    theta = l_mat.T @ np.linalg.solve(l_mat @ cov_beta @ l_mat.T, l_mat)
    mats = np.einsum("ab,kbc,cd->kad", theta @ cov_beta, terms.p, cov_beta)
    traces = np.einsum("kaa->k", mats)
    a1 = float(traces @ cov_theta @ traces)
    cross = np.einsum("iab,jba->ij", mats, mats)
    a2 = float(np.sum(cov_theta * cross))
    b = (a1 + 6.0 * a2) / (2.0 * q)
    e_star = 1.0 / (1.0 - a2 / q)
    g = ((q + 1.0) * a1 - (q + 4.0) * a2) / ((q + 2.0) * a2) if a2 > 0 else 0.0
    denom = 3.0 * q + 2.0 - 2.0 * g
    c1, c2, c3 = g / denom, (q - g) / denom, (q + 2.0 - g) / denom
    v_star = 2.0 / q * (1.0 + c1 * b) / ((1.0 - c2 * b) ** 2 * (1.0 - c3 * b))
    rho = v_star / (2.0 * e_star**2)
    if a2 <= 0.0 or q * rho <= 1.0:
        # No dependence on the covariance parameters: the F (t) test has infinite df.
        return float("inf"), 1.0
    df = 4.0 + (q + 2.0) / (q * rho - 1.0)
    lam = df / (e_star * (df - 2.0))
    return float(df), float(lam)


def reml_expected_information(counts_trace: FloatArray, cov_beta: FloatArray, terms: KenwardRogerTerms) -> FloatArray:
    """Expected REML information of the covariance parameters (for -log L, not -2 log L):

        I_ij = 1/2 tr(P V_i P V_j),  P = V^-1 - V^-1 X C X' V^-1,
             = 1/2 [sum_s tr(V^-1 V_i V^-1 V_j) - 2 tr(C Q_ij) + tr(C P_i C P_j)]

    `counts_trace` is the first sum (k x k). Kenward & Roger (1997) take W as its inverse; SAS
    uses the observed information instead (what fit_mmrm does), and R's pbkrtest the
    expected one, which is how the multi-df algebra is checked against pbkrtest.
    """
    c = cov_beta
    cq = np.einsum("ab,ijba->ij", c, terms.q)
    cp = np.einsum("ab,ibc->iac", c, terms.p)
    cpcp = np.einsum("iab,jba->ij", cp, cp)
    info = 0.5 * (counts_trace - 2.0 * cq + cpcp)
    return np.asarray((info + info.T) / 2.0, dtype=float)
