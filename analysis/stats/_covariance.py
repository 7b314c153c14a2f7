"""Residual (R-side) covariance structures for the MMRM, parametrised as SAS PROC MIXED does.

Every structure maps a vector of *natural* parameters (the numbers SAS prints in "Covariance
Parameter Estimates", in the same order) to the full covariance matrix over the sorted levels of
the repeated effect. A subject's own matrix is the sub-matrix of its observed levels, which is
exactly SAS's behaviour for REPEATED with SUBJECT= (AR(1) by level *position*, SP(POW) by time).

The optimiser never works on natural parameters: each structure also has an unconstrained
parametrisation (log variances, atanh/logit correlations, log-Cholesky) so that every point the
optimiser tries is a positive-definite matrix and no bound handling is needed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# Correlations are kept this far inside (-1, 1) when a starting value is derived from data,
# because atanh/logit of the boundary is infinite.
_START_CLIP = 0.9


class CovarianceStructure(ABC):
    """A residual covariance structure over `n_levels` ordered repeated-effect levels."""

    #: Short code, as accepted by fit_mmrm(covariance=...).
    code: str = ""
    #: Sigma is linear in the natural parameters (second derivatives vanish; Kenward-Roger's
    #: R_ij terms are zero, so KR and KR(LINEAR) coincide, as in SAS).
    linear: bool = False

    def __init__(self, n_levels: int, coordinates: FloatArray) -> None:
        self.n_levels = n_levels
        # Position (AR, TOEP) or time (SP(POW)) of each level; used to build distances.
        self.coordinates = np.asarray(coordinates, dtype=float)

    @property
    @abstractmethod
    def param_names(self) -> tuple[str, ...]:
        """Natural parameter names, in SAS's print order."""

    @abstractmethod
    def sigma(self, theta: FloatArray) -> FloatArray:
        """Full covariance matrix (n_levels x n_levels) from natural parameters."""

    @abstractmethod
    def to_natural(self, phi: FloatArray) -> FloatArray:
        """Unconstrained -> natural parameters."""

    @abstractmethod
    def to_unconstrained(self, theta: FloatArray) -> FloatArray:
        """Natural -> unconstrained parameters (inverse of to_natural)."""

    @abstractmethod
    def start(self, empirical: FloatArray) -> FloatArray:
        """Natural starting values from an empirical (pairwise) residual covariance matrix."""

    def boundary_problem(self, theta: FloatArray) -> str | None:
        """Describe why theta sits on the boundary of the parameter space, or None if it does not.

        A REML optimum on the boundary means the structure does not fit: SAS would print a
        "not positive definite" note, and we refuse instead of returning misleading SEs.
        """
        s = self.sigma(theta)
        eig = np.linalg.eigvalsh(s)
        scale = float(np.max(np.abs(np.diagonal(s, axis1=-2, axis2=-1))))
        smallest = float(np.min(eig))
        if not np.all(np.isfinite(eig)) or smallest <= 1e-8 * scale:
            return f"smallest eigenvalue {smallest:.3g} relative to variance scale {scale:.3g}"
        return None

    @property
    def n_params(self) -> int:
        return len(self.param_names)

    def dsigma_natural(self, theta: FloatArray) -> FloatArray | None:
        """Analytic d Sigma / d theta (k, m, m), or None to use finite differences."""
        return None

    def dsigma_unconstrained(self, phi: FloatArray) -> FloatArray | None:
        """Analytic d Sigma / d phi (k, m, m), or None to use the chain rule below."""
        return None

    def _lags(self) -> FloatArray:
        c = self.coordinates
        return np.asarray(np.abs(c[:, None] - c[None, :]), dtype=float)


def _mean_correlation_at_lag1(empirical: FloatArray) -> float:
    d = np.sqrt(np.clip(np.diag(empirical), 1e-12, None))
    corr = empirical / np.outer(d, d)
    if corr.shape[0] < 2:
        return 0.0
    return float(np.clip(np.mean(np.diag(corr, 1)), -_START_CLIP, _START_CLIP))


def _positive_mean_variance(empirical: FloatArray) -> float:
    v = float(np.mean(np.diag(empirical)))
    return v if v > 0 else 1.0


class AR1(CovarianceStructure):
    """SAS TYPE=AR(1): sigma2 * rho^|i-j| with i, j the level positions."""

    code = "ar1"

    @property
    def param_names(self) -> tuple[str, ...]:
        return ("rho", "sigma2")

    def sigma(self, theta: FloatArray) -> FloatArray:
        rho, s2 = theta
        return np.asarray(s2 * np.power(rho, self._lags()), dtype=float)

    def to_natural(self, phi: FloatArray) -> FloatArray:
        return np.array([np.tanh(phi[0]), np.exp(phi[1])])

    def to_unconstrained(self, theta: FloatArray) -> FloatArray:
        return np.array([np.arctanh(theta[0]), np.log(theta[1])])

    def start(self, empirical: FloatArray) -> FloatArray:
        return np.array([_mean_correlation_at_lag1(empirical), _positive_mean_variance(empirical)])

    def dsigma_natural(self, theta: FloatArray) -> FloatArray:
        rho, s2 = theta
        lags = self._lags()
        pow_lag = np.power(rho, lags)
        # d rho^l / d rho = l rho^(l-1); written to stay finite at rho = 0 and lag 0.
        d_rho = np.where(lags > 0, lags * np.power(rho, np.maximum(lags - 1.0, 0.0)), 0.0)
        return np.stack([s2 * d_rho, pow_lag])

    def boundary_problem(self, theta: FloatArray) -> str | None:
        if abs(theta[0]) > 0.9999:
            return f"rho = {theta[0]:.6f} is on the boundary of (-1, 1)"
        return super().boundary_problem(theta)


class SpPow(AR1):
    """SAS TYPE=SP(POW)(time): sigma2 * rho^|t_i - t_j|, with the actual times (rho in (0, 1))."""

    code = "sp_pow"

    def to_natural(self, phi: FloatArray) -> FloatArray:
        # rho^d with non-integer d is only real for rho > 0, hence logit rather than atanh.
        return np.array([1.0 / (1.0 + np.exp(-phi[0])), np.exp(phi[1])])

    def to_unconstrained(self, theta: FloatArray) -> FloatArray:
        return np.array([np.log(theta[0] / (1.0 - theta[0])), np.log(theta[1])])

    def start(self, empirical: FloatArray) -> FloatArray:
        rho = _mean_correlation_at_lag1(empirical)
        return np.array([float(np.clip(rho, 0.1, _START_CLIP)), _positive_mean_variance(empirical)])


class ARH1(CovarianceStructure):
    """SAS TYPE=ARH(1): heterogeneous variances, AR(1) correlation by level position."""

    code = "arh1"

    @property
    def param_names(self) -> tuple[str, ...]:
        return (*(f"var({i + 1})" for i in range(self.n_levels)), "rho")

    def sigma(self, theta: FloatArray) -> FloatArray:
        sd = np.sqrt(theta[:-1])
        return np.asarray(np.outer(sd, sd) * np.power(theta[-1], self._lags()), dtype=float)

    def to_natural(self, phi: FloatArray) -> FloatArray:
        return np.concatenate([np.exp(phi[:-1]), [np.tanh(phi[-1])]])

    def to_unconstrained(self, theta: FloatArray) -> FloatArray:
        return np.concatenate([np.log(theta[:-1]), [np.arctanh(theta[-1])]])

    def start(self, empirical: FloatArray) -> FloatArray:
        v = np.clip(np.diag(empirical), 1e-3 * _positive_mean_variance(empirical), None)
        return np.concatenate([v, [_mean_correlation_at_lag1(empirical)]])


class CS(CovarianceStructure):
    """SAS TYPE=CS: residual * I + cs_covariance * J (the covariance may be negative, as in SAS)."""

    code = "cs"
    linear = True

    @property
    def param_names(self) -> tuple[str, ...]:
        return ("cs_covariance", "residual")

    def _rho_low(self) -> float:
        # Positive definiteness on the full matrix needs rho > -1/(m-1).
        return -1.0 / (self.n_levels - 1) if self.n_levels > 1 else -1.0

    def sigma(self, theta: FloatArray) -> FloatArray:
        cs, res = theta
        return np.asarray(res * np.eye(self.n_levels) + cs, dtype=float)

    def dsigma_natural(self, theta: FloatArray) -> FloatArray:
        m = self.n_levels
        return np.stack([np.ones((m, m)), np.eye(m)])

    def to_natural(self, phi: FloatArray) -> FloatArray:
        total = np.exp(phi[0])
        lo = self._rho_low()
        rho = lo + (1.0 - lo) / (1.0 + np.exp(-phi[1]))
        return np.array([rho * total, (1.0 - rho) * total])

    def to_unconstrained(self, theta: FloatArray) -> FloatArray:
        total = theta[0] + theta[1]
        rho = theta[0] / total
        lo = self._rho_low()
        u = (rho - lo) / (1.0 - lo)
        return np.array([np.log(total), np.log(u / (1.0 - u))])

    def start(self, empirical: FloatArray) -> FloatArray:
        v = _positive_mean_variance(empirical)
        rho = float(np.clip(_mean_correlation_at_lag1(empirical), 0.0, _START_CLIP))
        return np.array([rho * v, (1.0 - rho) * v])


class CSH(CovarianceStructure):
    """SAS TYPE=CSH: heterogeneous variances with one common correlation."""

    code = "csh"

    @property
    def param_names(self) -> tuple[str, ...]:
        return (*(f"var({i + 1})" for i in range(self.n_levels)), "rho")

    def _rho_low(self) -> float:
        return -1.0 / (self.n_levels - 1) if self.n_levels > 1 else -1.0

    def sigma(self, theta: FloatArray) -> FloatArray:
        sd = np.sqrt(theta[:-1])
        corr = np.full((self.n_levels, self.n_levels), theta[-1])
        np.fill_diagonal(corr, 1.0)
        return np.asarray(np.outer(sd, sd) * corr, dtype=float)

    def to_natural(self, phi: FloatArray) -> FloatArray:
        lo = self._rho_low()
        rho = lo + (1.0 - lo) / (1.0 + np.exp(-phi[-1]))
        return np.concatenate([np.exp(phi[:-1]), [rho]])

    def to_unconstrained(self, theta: FloatArray) -> FloatArray:
        lo = self._rho_low()
        u = (theta[-1] - lo) / (1.0 - lo)
        return np.concatenate([np.log(theta[:-1]), [np.log(u / (1.0 - u))]])

    def start(self, empirical: FloatArray) -> FloatArray:
        v = np.clip(np.diag(empirical), 1e-3 * _positive_mean_variance(empirical), None)
        rho = float(np.clip(_mean_correlation_at_lag1(empirical), 0.0, _START_CLIP))
        return np.concatenate([v, [rho]])


class Toeplitz(CovarianceStructure):
    """SAS TYPE=TOEP: a covariance per lag of level position.

    Natural parameters are the lag-0 variance ("sigma2") and the covariances at lags 1..m-1.
    The unconstrained parametrisation uses partial autocorrelations (Durbin-Levinson), because
    that is the only simple map onto exactly the positive-definite Toeplitz matrices.
    """

    code = "toep"
    linear = True

    @property
    def n_lags(self) -> int:
        """Largest lag between level positions (a declared level without data keeps its gap)."""
        return round(float(np.max(self.coordinates) - np.min(self.coordinates))) if self.n_levels else 0

    def _lag_index(self) -> NDArray[np.intp]:
        return np.asarray(np.rint(self._lags()), dtype=np.intp)

    @property
    def param_names(self) -> tuple[str, ...]:
        return ("sigma2", *(f"toep_lag{k}" for k in range(1, self.n_lags + 1)))

    def sigma(self, theta: FloatArray) -> FloatArray:
        return np.asarray(theta[self._lag_index()], dtype=float)

    def dsigma_natural(self, theta: FloatArray) -> FloatArray:
        lags = self._lag_index()
        return np.stack([(lags == k).astype(float) for k in range(self.n_lags + 1)])

    @staticmethod
    def _pacf_to_acf(pacf: FloatArray) -> FloatArray:
        # Durbin-Levinson recursion from partial to ordinary autocorrelations.
        m = len(pacf)
        acf = np.zeros(m)
        phi = np.zeros(0)
        for k in range(m):
            a = pacf[k]
            if k == 0:
                acf[0] = a
                phi = np.array([a])
                continue
            acf[k] = a * (1.0 - float(np.dot(phi, acf[:k]))) + float(np.dot(phi, acf[k - 1 :: -1][:k]))
            phi = np.concatenate([phi - a * phi[::-1], [a]])
        return acf

    @staticmethod
    def _acf_to_pacf(acf: FloatArray) -> FloatArray:
        m = len(acf)
        pacf = np.zeros(m)
        r = np.concatenate([[1.0], acf])
        for k in range(1, m + 1):
            toe = r[np.abs(np.subtract.outer(np.arange(k), np.arange(k)))]
            coef = np.linalg.solve(toe, r[1 : k + 1])
            pacf[k - 1] = coef[-1]
        return pacf

    def to_natural(self, phi: FloatArray) -> FloatArray:
        s2 = np.exp(phi[0])
        acf = self._pacf_to_acf(np.tanh(phi[1:]))
        return np.concatenate([[s2], s2 * acf])

    def to_unconstrained(self, theta: FloatArray) -> FloatArray:
        pacf = self._acf_to_pacf(theta[1:] / theta[0])
        return np.concatenate([[np.log(theta[0])], np.arctanh(pacf)])

    def start(self, empirical: FloatArray) -> FloatArray:
        v = _positive_mean_variance(empirical)
        rho = _mean_correlation_at_lag1(empirical)
        return np.concatenate([[v], v * rho ** np.arange(1, self.n_lags + 1)])


class HeterogeneousToeplitz(CovarianceStructure):
    """SAS TYPE=TOEPH: a variance per level and a correlation per lag of level position.

    sigma_ij = sqrt(var_i var_j) toeph_|i-j|, natural parameters var(1..m), toeph(1..m-1) in
    SAS's print order. The correlations are parametrised by partial autocorrelations as for
    TOEP, which keeps every trial point positive definite.
    """

    code = "toeph"

    @property
    def n_lags(self) -> int:
        return round(float(np.max(self.coordinates) - np.min(self.coordinates))) if self.n_levels else 0

    @property
    def param_names(self) -> tuple[str, ...]:
        return (*(f"var({i + 1})" for i in range(self.n_levels)), *(f"toeph({k})" for k in range(1, self.n_lags + 1)))

    def sigma(self, theta: FloatArray) -> FloatArray:
        m = self.n_levels
        sd = np.sqrt(theta[:m])
        rho = np.concatenate([[1.0], theta[m:]])
        corr = rho[np.asarray(np.rint(self._lags()), dtype=np.intp)]
        return np.asarray(np.outer(sd, sd) * corr, dtype=float)

    def to_natural(self, phi: FloatArray) -> FloatArray:
        m = self.n_levels
        return np.concatenate([np.exp(phi[:m]), Toeplitz._pacf_to_acf(np.tanh(phi[m:]))])

    def to_unconstrained(self, theta: FloatArray) -> FloatArray:
        m = self.n_levels
        return np.concatenate([np.log(theta[:m]), np.arctanh(Toeplitz._acf_to_pacf(theta[m:]))])

    def start(self, empirical: FloatArray) -> FloatArray:
        v = np.clip(np.diag(empirical), 1e-3 * _positive_mean_variance(empirical), None)
        rho = _mean_correlation_at_lag1(empirical)
        return np.concatenate([v, rho ** np.arange(1, self.n_lags + 1)])


class Antedependence(CovarianceStructure):
    """SAS TYPE=ANTE(1): first-order antedependence.

    sigma_ij = sqrt(var_i var_j) rho_i rho_(i+1) ... rho_(j-1) for i < j, natural parameters
    var(1..m), rho(1..m-1) in SAS's print order; positive definite exactly when every
    |rho_k| < 1 (atanh for the optimiser). Levels are taken in their order; a declared level
    without data only merges two neighbouring correlations into their product.
    """

    code = "ante1"

    @property
    def param_names(self) -> tuple[str, ...]:
        return (*(f"var({i + 1})" for i in range(self.n_levels)), *(f"rho({k})" for k in range(1, self.n_levels)))

    def sigma(self, theta: FloatArray) -> FloatArray:
        m = self.n_levels
        sd = np.sqrt(theta[:m])
        rho = theta[m:]
        corr = np.eye(m)
        for i in range(m):
            for j in range(i + 1, m):
                corr[i, j] = corr[j, i] = corr[i, j - 1] * rho[j - 1]
        return np.asarray(np.outer(sd, sd) * corr, dtype=float)

    def to_natural(self, phi: FloatArray) -> FloatArray:
        m = self.n_levels
        return np.concatenate([np.exp(phi[:m]), np.tanh(phi[m:])])

    def to_unconstrained(self, theta: FloatArray) -> FloatArray:
        m = self.n_levels
        return np.concatenate([np.log(theta[:m]), np.arctanh(theta[m:])])

    def start(self, empirical: FloatArray) -> FloatArray:
        v = np.clip(np.diag(empirical), 1e-3 * _positive_mean_variance(empirical), None)
        d = np.sqrt(v)
        corr = np.diag(empirical, 1) / (d[:-1] * d[1:])
        return np.concatenate([v, np.clip(corr, -_START_CLIP, _START_CLIP)])


class Unstructured(CovarianceStructure):
    """SAS TYPE=UN: every variance and covariance free; log-Cholesky for the optimiser."""

    code = "un"
    linear = True

    def __init__(self, n_levels: int, coordinates: FloatArray) -> None:
        super().__init__(n_levels, coordinates)
        # SAS order: UN(1,1), UN(2,1), UN(2,2), UN(3,1), ... (row-major lower triangle).
        self._rows, self._cols = np.tril_indices(n_levels)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(f"UN({i + 1},{j + 1})" for i, j in zip(self._rows, self._cols, strict=True))

    def sigma(self, theta: FloatArray) -> FloatArray:
        s = np.zeros((self.n_levels, self.n_levels))
        s[self._rows, self._cols] = theta
        s[self._cols, self._rows] = theta
        return s

    def dsigma_natural(self, theta: FloatArray) -> FloatArray:
        k = len(self._rows)
        out = np.zeros((k, self.n_levels, self.n_levels))
        idx = np.arange(k)
        out[idx, self._rows, self._cols] = 1.0
        out[idx, self._cols, self._rows] = 1.0
        return out

    def dsigma_unconstrained(self, phi: FloatArray) -> FloatArray:
        # Sigma = L L'; d Sigma / d L_ij = E_ij L' + L E_ji, times L_ii for a log diagonal.
        chol = np.zeros((self.n_levels, self.n_levels))
        chol[self._rows, self._cols] = phi
        d = np.arange(self.n_levels)
        chol[d, d] = np.exp(chol[d, d])
        scale = np.where(self._rows == self._cols, chol[self._rows, self._cols], 1.0)
        half = np.zeros((len(self._rows), self.n_levels, self.n_levels))
        half[np.arange(len(self._rows)), self._rows, :] = scale[:, None] * chol[:, self._cols].T
        return np.asarray(half + half.transpose(0, 2, 1), dtype=float)

    def to_natural(self, phi: FloatArray) -> FloatArray:
        chol = np.zeros((self.n_levels, self.n_levels))
        chol[self._rows, self._cols] = phi
        d = np.arange(self.n_levels)
        chol[d, d] = np.exp(chol[d, d])
        s = chol @ chol.T
        return np.asarray(s[self._rows, self._cols], dtype=float)

    def to_unconstrained(self, theta: FloatArray) -> FloatArray:
        chol = np.linalg.cholesky(self.sigma(theta))
        d = np.arange(self.n_levels)
        chol[d, d] = np.log(chol[d, d])
        return np.asarray(chol[self._rows, self._cols], dtype=float)

    def start(self, empirical: FloatArray) -> FloatArray:
        # Pairwise-complete covariances need not be positive definite: lift the spectrum.
        sym = (empirical + empirical.T) / 2.0
        w, v = np.linalg.eigh(sym)
        floor = 1e-2 * _positive_mean_variance(sym)
        fixed = (v * np.clip(w, floor, None)) @ v.T
        return np.asarray(fixed[self._rows, self._cols], dtype=float)


class SpatialExponential(CovarianceStructure):
    """SAS TYPE=SP(EXP)(c1 ... cd): sigma2 * exp(-d_ij / range), d_ij the Euclidean distance
    between the coordinates of a subject's observations i and j.

    The coordinates may differ between subjects (SAS takes them from each row), so Sigma is
    one matrix per missingness-and-coordinates pattern: `pattern_coordinates` (P, m, d), and
    sigma() returns (P, m, m). Natural parameters in SAS's print order: the range ("SP(EXP)")
    and sigma2 ("Residual").
    """

    code = "sp_exp"

    def __init__(self, n_levels: int, coordinates: FloatArray, pattern_coordinates: FloatArray | None = None) -> None:
        super().__init__(n_levels, coordinates)
        if pattern_coordinates is None:
            raise ValueError("SP(EXP) needs the coordinates of every pattern")
        diff = pattern_coordinates[:, :, None, :] - pattern_coordinates[:, None, :, :]
        self.distances = np.sqrt(np.sum(diff * diff, axis=-1))  # (P, m, m)

    @property
    def param_names(self) -> tuple[str, ...]:
        return ("range", "sigma2")

    def sigma(self, theta: FloatArray) -> FloatArray:
        rng, s2 = theta
        return np.asarray(s2 * np.exp(-self.distances / rng), dtype=float)

    def dsigma_natural(self, theta: FloatArray) -> FloatArray:
        rng, s2 = theta
        corr = np.exp(-self.distances / rng)
        return np.stack([s2 * corr * self.distances / (rng * rng), corr])

    def boundary_problem(self, theta: FloatArray) -> str | None:
        # The padded per-pattern matrices repeat coordinates at unobserved levels, so the
        # eigenvalue check does not apply; the boundary is a range so long that observations
        # at the shortest observed distance are perfectly correlated.
        rng, s2 = (float(v) for v in theta)
        positive = self.distances[self.distances > 0]
        shortest = float(positive.min()) if positive.size else 1.0
        if not (np.isfinite(rng) and np.isfinite(s2)) or s2 <= 0 or np.exp(-shortest / rng) > 1.0 - 1e-8:
            return f"range = {rng:.6g} makes observations {shortest:.3g} apart perfectly correlated"
        return None

    def to_natural(self, phi: FloatArray) -> FloatArray:
        return np.exp(phi)

    def to_unconstrained(self, theta: FloatArray) -> FloatArray:
        return np.log(theta)

    def start(self, empirical: FloatArray) -> FloatArray:
        rho = float(np.clip(_mean_correlation_at_lag1(empirical), 0.05, _START_CLIP))
        off = self.distances[:, np.arange(self.n_levels - 1), np.arange(1, self.n_levels)]
        step = float(np.mean(off)) if off.size else 1.0
        return np.array([max(step, 1e-3) / -np.log(rho), _positive_mean_variance(empirical)])


STRUCTURES: dict[str, type[CovarianceStructure]] = {
    cls.code: cls
    for cls in (
        AR1,
        ARH1,
        CS,
        CSH,
        Toeplitz,
        HeterogeneousToeplitz,
        Antedependence,
        Unstructured,
        SpPow,
        SpatialExponential,
    )
}


def make_structure(
    code: str,
    n_levels: int,
    coordinates: Sequence[float] | FloatArray,
    pattern_coordinates: FloatArray | None = None,
) -> CovarianceStructure:
    """Build the structure named `code` (see STRUCTURES) over the given level coordinates
    (and, for SP(EXP), the coordinates of each pattern)."""
    try:
        cls = STRUCTURES[code]
    except KeyError:
        raise ValueError(f"Unknown covariance structure {code!r}; choose one of {sorted(STRUCTURES)}") from None
    if cls is SpatialExponential:
        return SpatialExponential(n_levels, np.asarray(coordinates, dtype=float), pattern_coordinates)
    return cls(n_levels, np.asarray(coordinates, dtype=float))


def dsigma(structure: CovarianceStructure, theta: FloatArray, natural: bool) -> FloatArray:
    """Derivatives of the full covariance matrix, shape (n_params, m, m).

    Central differences on the *matrix* (not on the likelihood): the maps are smooth and cheap,
    so this is accurate to ~1e-10 relative and keeps every structure a few lines long.
    `natural` says whether theta is natural or unconstrained.
    """

    if natural:
        exact = structure.dsigma_natural(theta)
        if exact is not None:
            return exact
    else:
        exact = structure.dsigma_unconstrained(theta)
        if exact is not None:
            return exact
        nat_d = structure.dsigma_natural(structure.to_natural(theta))
        if nat_d is not None:
            # Chain rule through a numerically differentiated (cheap, vector) map phi -> theta.
            jac = np.empty((len(theta), len(theta)))
            for i in range(len(theta)):
                h = 1e-6 * max(1.0, abs(float(theta[i])))
                up, dn = theta.copy(), theta.copy()
                up[i] += h
                dn[i] -= h
                jac[:, i] = (structure.to_natural(up) - structure.to_natural(dn)) / (2.0 * h)
            return np.asarray(np.einsum("ti,t...->i...", jac, nat_d), dtype=float)

    def build(t: FloatArray) -> FloatArray:
        return structure.sigma(t if natural else structure.to_natural(t))

    k = len(theta)
    out = np.empty((k, *build(theta).shape))
    for i in range(k):
        h = 1e-6 * max(1.0, abs(float(theta[i])))
        up = theta.copy()
        dn = theta.copy()
        up[i] += h
        dn[i] -= h
        out[i] = (build(up) - build(dn)) / (2.0 * h)
    return out


def d2sigma_natural(structure: CovarianceStructure, theta: FloatArray) -> FloatArray:
    """Second derivatives d2 Sigma / d theta_i d theta_j in SAS's natural parametrisation,
    shape (k, k, m, m) (or (k, k, P, m, m) for per-pattern matrices), for Kenward-Roger's R_ij
    terms (Kenward & Roger 1997, eq. 4).

    Exactly zero for structures linear in their parameters; otherwise central differences of
    the matrix map with a step of 1e-4 relative, accurate to ~1e-8 (the maps are smooth and
    cheap, as for dsigma).
    """
    k = structure.n_params
    base = structure.sigma(theta)
    out = np.zeros((k, k, *base.shape))
    if structure.linear:
        return out
    steps = np.array([1e-4 * max(1.0, abs(float(t))) for t in theta])

    def at(i: int, si: float, j: int, sj: float) -> FloatArray:
        t = theta.copy()
        t[i] += si * steps[i]
        t[j] += sj * steps[j]
        return structure.sigma(t)

    for i in range(k):
        up, dn = at(i, 1.0, i, 0.0), at(i, -1.0, i, 0.0)
        out[i, i] = (up - 2.0 * base + dn) / steps[i] ** 2
        for j in range(i):
            val = (at(i, 1.0, j, 1.0) - at(i, 1.0, j, -1.0) - at(i, -1.0, j, 1.0) + at(i, -1.0, j, -1.0)) / (
                4.0 * steps[i] * steps[j]
            )
            out[i, j] = val
            out[j, i] = val
    return out
