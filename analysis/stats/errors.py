"""Exceptions raised by the statistics engine: each names the problem, never a silent NaN."""

from __future__ import annotations


class StatsError(ValueError):
    """Base class for analysis.stats errors."""


class NonPositiveDefiniteCovarianceError(StatsError):
    """The fitted residual covariance (or its information matrix) is not positive definite."""


class ConvergenceError(StatsError):
    """No optimiser in the documented fallback chain reached a stationary point."""


class RankDeficientDesignError(StatsError):
    """The fixed-effects design matrix does not have full column rank."""


class VisitLevelError(StatsError):
    """The repeated-effect (visit/time) column cannot index the requested covariance."""


class NotEstimableError(StatsError):
    """A requested hypothesis or LS-mean is not estimable from this model."""


class DegreesOfFreedomError(StatsError):
    """A test's denominator degrees of freedom are zero (or undefined): no p-value exists."""
