"""Exact (restricted) likelihood of the MMRM from per-missingness-pattern sufficient statistics.

Subjects that were observed at the same set of repeated-effect levels share one covariance
matrix V_p, so every quantity the likelihood needs is linear in the per-pattern cross-products

    A_p[j, k] = sum_i x_ij x_ik'     B_p[j, k] = sum_i x_ij y_ik     C_p[j, k] = sum_i y_ij y_ik

(j, k = levels). They are computed once, after which one likelihood evaluation costs
O(patterns x levels^2 x p^2) whatever the number of subjects.

Patterns are stored *padded* to the full level set: V_p is embedded in an m x m matrix whose
unobserved rows and columns are the identity, and its inverse is masked back to zero there. That
turns the per-pattern loop into batched numpy calls (one Cholesky for all patterns).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analysis.stats.errors import NonPositiveDefiniteCovarianceError

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.intp]

LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True, eq=False)
class PatternStatistics:
    """Sufficient statistics of the data, grouped by missingness pattern."""

    masks: BoolArray  # (P, m): level observed in pattern
    counts: FloatArray  # (P,): subjects with the pattern
    xx: FloatArray  # (P, m, m, p, p)
    xy: FloatArray  # (P, m, m, p)
    yy: FloatArray  # (P, m, m)
    n_obs: int
    n_subjects: int
    n_coef: int
    subject_pattern: IntArray  # (n_subjects,): pattern of each subject (row order of `subject_codes`)
    # (P, m, d): coordinates of each pattern's levels when they vary by subject (SP(EXP)), else None.
    coordinates: FloatArray | None = None

    @property
    def pair_mask(self) -> BoolArray:
        return self.masks[:, :, None] & self.masks[:, None, :]


def _unique_rows(rows: NDArray[np.int64], base: int) -> tuple[NDArray[np.int64], IntArray]:
    """Distinct rows (entries in [0, base)) in order of first appearance, and each row's index
    among them: np.unique(axis=0) without sorting, by hashing one column at a time."""
    codes = np.zeros(rows.shape[0], dtype=np.int64)
    for j in range(rows.shape[1]):
        # codes < n_rows, so codes * base + entry stays far below 2**63.
        codes = pd.factorize(codes * np.int64(base) + rows[:, j])[0].astype(np.int64)
    if rows.shape[0] == 0:
        return rows[:0], np.zeros(0, dtype=np.intp)
    # Codes number rows in order of first appearance: the running maximum rises exactly there.
    running = np.maximum.accumulate(codes)
    first = np.flatnonzero(np.r_[True, running[1:] > running[:-1]])
    return rows[first], np.asarray(codes, dtype=np.intp)


def pattern_statistics(
    y: FloatArray,
    x: FloatArray,
    subject: IntArray,
    level: IntArray,
    n_levels: int,
    x_unique: FloatArray | None = None,
    row_codes: IntArray | None = None,
    coords: FloatArray | None = None,
) -> PatternStatistics:
    """Group observations by subject and pattern; `subject` and `level` are 0-based codes.

    With `x_unique`/`row_codes` (X = x_unique[row_codes], see _design.build_design) subjects
    are grouped further by their *design profile*, the design row at each level: all subjects
    of one profile share their X, so X'X terms are computed once per profile and X'y from the
    profile's summed outcomes. Categorical designs have a few hundred profiles whatever the
    number of subjects.

    `coords` (n_obs, d): coordinates of each observation for structures whose matrix depends on
    them per subject (SP(EXP)); a pattern is then a set of levels *and* their coordinates.
    """
    n_subjects = int(subject.max()) + 1
    p = x.shape[1]
    yd = np.zeros((n_subjects, n_levels))
    yd[subject, level] = y
    if x_unique is None or row_codes is None:
        x_unique = x
        row_codes = np.arange(len(y), dtype=np.intp)
    n_unique = x_unique.shape[0]
    # Design profile: the x_unique row at each level, n_unique where unobserved (a zero row).
    profile = np.full((n_subjects, n_levels), n_unique, dtype=np.int64)
    profile[subject, level] = row_codes
    seen = profile < n_unique
    pattern_coords: FloatArray | None = None
    if coords is None:
        patterns, subject_pattern = _unique_rows(seen.astype(np.int64), 2)
    else:
        n_dim = coords.shape[1]
        cd = np.zeros((n_subjects, n_levels, n_dim))
        cd[subject, level] = coords
        keyed = np.concatenate([seen.astype(float), cd.reshape(n_subjects, -1)], axis=1)
        _, first, inverse = np.unique(keyed, axis=0, return_index=True, return_inverse=True)
        patterns = seen[first].astype(np.int64)
        subject_pattern = np.asarray(inverse, dtype=np.intp).ravel()
        pattern_coords = cd[first]
    n_pat = patterns.shape[0]
    counts = np.bincount(subject_pattern, minlength=n_pat).astype(float)
    profiles, subject_profile = _unique_rows(profile, n_unique + 1)
    if coords is not None:
        # Profiles must not mix patterns (same design rows, other coordinates): split them.
        pair_key = subject_profile.astype(np.int64) * n_pat + subject_pattern
        _, first_pair, subject_profile = np.unique(pair_key, return_index=True, return_inverse=True)
        subject_profile = np.asarray(subject_profile, dtype=np.intp).ravel()
        profiles = profile[first_pair]
    n_prof = profiles.shape[0]
    prof_count = np.bincount(subject_profile, minlength=n_prof).astype(float)
    prof_pattern = np.empty(n_prof, dtype=np.intp)
    prof_pattern[subject_profile] = subject_pattern
    prof_ysum = np.stack(
        [np.bincount(subject_profile, weights=yd[:, j], minlength=n_prof) for j in range(n_levels)], axis=1
    )
    padded = np.vstack([x_unique, np.zeros((1, p))])
    z_all = padded[profiles].reshape(n_prof, n_levels * p)  # (profiles, m*p)
    xx = np.empty((n_pat, n_levels, n_levels, p, p))
    xy = np.empty((n_pat, n_levels, n_levels, p))
    yy = np.empty((n_pat, n_levels, n_levels))
    prof_order = np.argsort(prof_pattern, kind="stable")
    prof_bounds = np.concatenate([[0], np.cumsum(np.bincount(prof_pattern, minlength=n_pat))])
    subj_order = np.argsort(subject_pattern, kind="stable")
    subj_bounds = np.concatenate([[0], np.cumsum(counts).astype(int)])
    for g in range(n_pat):
        idx = prof_order[prof_bounds[g] : prof_bounds[g + 1]]
        # One BLAS matrix product per pattern, weighted by the profile counts.
        z = z_all[idx]
        xx[g] = ((z.T * prof_count[idx]) @ z).reshape(n_levels, p, n_levels, p).transpose(0, 2, 1, 3)
        xy[g] = (z.T @ prof_ysum[idx]).reshape(n_levels, p, n_levels).transpose(0, 2, 1)
        yg = yd[subj_order[subj_bounds[g] : subj_bounds[g + 1]]]
        yy[g] = yg.T @ yg
    return PatternStatistics(
        masks=patterns.astype(bool),
        counts=counts,
        xx=xx,
        xy=xy,
        yy=yy,
        n_obs=len(y),
        n_subjects=n_subjects,
        n_coef=p,
        subject_pattern=subject_pattern,
        coordinates=pattern_coords,
    )


@dataclass(frozen=True, eq=False)
class Evaluation:
    """The likelihood and its by-products at one covariance matrix."""

    objective: float  # -2 (restricted) log likelihood, SAS scale
    beta: FloatArray
    cov_beta: FloatArray  # (X' V^-1 X)^-1
    w: FloatArray  # (P, m, m) padded V_p^-1
    residual_cross: FloatArray  # (P, m, m): sum_i r_i r_i' per pattern


def evaluate(stats: PatternStatistics, sigma: FloatArray, reml: bool) -> Evaluation:
    """-2 log likelihood (REML or ML) with beta profiled out."""
    pair = stats.pair_mask
    m = sigma.shape[-1]
    # One matrix for all patterns (m, m), or one per pattern (P, m, m).
    vpad = np.where(pair, sigma if sigma.ndim == 3 else sigma[None, :, :], np.eye(m)[None, :, :])
    try:
        chol = np.linalg.cholesky(vpad)
    except np.linalg.LinAlgError as exc:
        raise NonPositiveDefiniteCovarianceError(
            "The residual covariance matrix is not positive definite for at least one missingness pattern."
        ) from exc
    logdet = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    w = np.linalg.inv(vpad) * pair
    # Flattened (P*m*m) contractions go through BLAS; einsum would loop in C without it.
    p_ = stats.n_coef
    wf = w.reshape(-1)
    xtwx = (wf @ stats.xx.reshape(wf.size, p_ * p_)).reshape(p_, p_)
    xtwy = wf @ stats.xy.reshape(wf.size, p_)
    ytwy = float(wf @ stats.yy.reshape(-1))
    try:
        chol_x = np.linalg.cholesky(xtwx)
    except np.linalg.LinAlgError as exc:
        raise NonPositiveDefiniteCovarianceError(
            "X' V^-1 X is not positive definite: the design is rank deficient for this covariance."
        ) from exc
    cov_beta = np.linalg.inv(xtwx)
    cov_beta = (cov_beta + cov_beta.T) / 2.0
    beta = cov_beta @ xtwy
    quad = ytwy - float(beta @ xtwy)
    n, p = stats.n_obs, stats.n_coef
    obj = float(stats.counts @ logdet) + quad
    if reml:
        obj += (n - p) * LOG_2PI + 2.0 * float(np.log(np.diag(chol_x)).sum())
    else:
        obj += n * LOG_2PI
    xb = (stats.xy.reshape(-1, p) @ beta).reshape(stats.yy.shape)
    bxxb = (stats.xx.reshape(-1, p * p) @ np.outer(beta, beta).reshape(-1)).reshape(stats.yy.shape)
    resid = stats.yy - xb - xb.transpose(0, 2, 1) + bxxb
    return Evaluation(objective=obj, beta=beta, cov_beta=cov_beta, w=w, residual_cross=resid)


def gradient(stats: PatternStatistics, ev: Evaluation, reml: bool, dsig: FloatArray) -> FloatArray:
    """d(-2 l)/d theta_k for d Sigma/d theta_k = dsig[k], (k, m, m) or per pattern (k, P, m, m)."""
    if dsig.ndim == 4:
        per_pattern = gradient_matrix(stats, ev, reml, per_pattern=True)
        return np.asarray(np.einsum("kpjl,pjl->k", dsig, per_pattern), dtype=float)
    return np.asarray(np.einsum("kjl,jl->k", dsig, gradient_matrix(stats, ev, reml)), dtype=float)


def gradient_matrix(stats: PatternStatistics, ev: Evaluation, reml: bool, per_pattern: bool = False) -> FloatArray:
    """G (m x m) with d(-2 l)/d theta_k = sum(dSigma/dtheta_k * G) for any parametrisation
    (per_pattern: the (P, m, m) terms before summing, for per-pattern matrices).

    d(-2 l) = tr(V^-1 dV) - r'V^-1 dV V^-1 r - [REML] tr(C X'V^-1 dV V^-1 X), summed by pattern.
    """
    inner = ev.residual_cross
    if reml:
        p = stats.n_coef
        inner = inner + (stats.xx.reshape(-1, p * p) @ ev.cov_beta.reshape(-1)).reshape(inner.shape)
    g = stats.counts[:, None, None] * ev.w - ev.w @ inner @ ev.w
    return np.asarray(g if per_pattern else g.sum(axis=0), dtype=float)


def cov_beta_derivatives(stats: PatternStatistics, ev: Evaluation, dsig: FloatArray) -> FloatArray:
    """d(X'V^-1X)^-1 / d theta_k = C (X'V^-1 dV_k V^-1 X) C, shape (k, p, p)."""
    sub = "kpjl" if dsig.ndim == 4 else "kjl"
    wdw = np.einsum(f"pij,{sub},plm->kpim", ev.w, dsig, ev.w)
    q = np.einsum("kpjl,pjlab->kab", wdw, stats.xx)
    c = ev.cov_beta
    return np.asarray(np.einsum("ab,kbc,cd->kad", c, q, c), dtype=float)


def expected_hessian(stats: PatternStatistics, ev: Evaluation, dsig: FloatArray) -> FloatArray:
    """Expected Hessian of -2 log L (ML form): H_kl = sum_p n_p tr(V_p^-1 dV_k V_p^-1 dV_l).

    Used as the metric of Fisher scoring. It leaves out REML's small correction for the fixed
    effects, which changes the path to the optimum but not the optimum (the gradient is exact).
    W is zero outside each pattern's observed levels, so the padded dV need no masking.
    """
    per_pattern = dsig.transpose(1, 0, 2, 3) if dsig.ndim == 4 else dsig[None, :, :, :]
    a = np.matmul(ev.w[:, None, :, :], per_pattern)  # (P, k, m, m): W_p dV_k
    # einsum's optimised path beats tensordot/BLAS here (small, oddly shaped operands).
    h = np.einsum("p,pkij,plji->kl", stats.counts, a, a, optimize=True)
    return np.asarray((h + h.T) / 2.0, dtype=float)


@dataclass(frozen=True, eq=False)
class KenwardRogerTerms:
    """Kenward & Roger (1997, section 2) P_i, Q_ij and R_ij, summed over subjects.

    With W_p the inverse of a pattern's covariance and dV_i, d2V_ij the derivatives of Sigma
    with respect to the natural covariance parameters:
        P_i  = X' W dV_i W X                  (k, p, p; KR's P_i up to sign, which cancels)
        Q_ij = X' W dV_i W dV_j W X           (k, k, p, p)
        R_ij = X' W d2V_ij W X                (k, k, p, p; zero for linear structures)
    """

    p: FloatArray
    q: FloatArray
    r: FloatArray


def kenward_roger_terms(
    stats: PatternStatistics, ev: Evaluation, dsig: FloatArray, d2sig: FloatArray
) -> KenwardRogerTerms:
    n_pat, m, _ = ev.w.shape
    k = dsig.shape[0]
    p_ = stats.n_coef
    xx = stats.xx.reshape(n_pat * m * m, p_ * p_)
    per_pattern = dsig if dsig.ndim == 4 else dsig[:, None, :, :]
    w_ds = np.matmul(ev.w[None, :, :, :], per_pattern)  # (k, P, m, m): W dV_i
    p_terms = (np.matmul(w_ds, ev.w[None]).reshape(k, -1) @ xx).reshape(k, p_, p_)
    q_terms = np.empty((k, k, p_, p_))
    for i in range(k):
        # One batch of matrix products per i keeps memory at k x P x m x m.
        prod = np.matmul(np.matmul(w_ds[i][None], w_ds), ev.w[None])
        q_terms[i] = (prod.reshape(k, -1) @ xx).reshape(k, p_, p_)
    r_terms = np.zeros((k, k, p_, p_))
    if np.any(d2sig != 0.0):
        for i in range(k):
            d2 = d2sig[i] if d2sig.ndim == 5 else d2sig[i][:, None, :, :]
            prod = np.matmul(np.matmul(ev.w[None], d2), ev.w[None])
            r_terms[i] = (prod.reshape(k, -1) @ xx).reshape(k, p_, p_)
    return KenwardRogerTerms(p=p_terms, q=q_terms, r=r_terms)
