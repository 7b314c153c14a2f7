"""Power and sample size for a two-group difference in means (equal allocation, two-sided).

statsmodels solves both: TTestIndPower (noncentral t) and NormalIndPower (normal
approximation). The protocol's calculation ("Sample size": SD 7, 80% power, alpha .05,
30 per arm) is detectable_difference(sd=7, n_per_group=30) -> 5.149 by t (R's
power.t.test(n=30, sd=7, power=0.8) gives delta 5.1494), 5.066 by normal.
"""

from __future__ import annotations

import math
from typing import Literal

from statsmodels.stats.power import NormalIndPower, TTestIndPower

Method = Literal["t", "normal"]


def _engine(method: Method) -> TTestIndPower | NormalIndPower:
    if method == "t":
        return TTestIndPower()
    if method == "normal":
        return NormalIndPower()
    raise ValueError(f"method must be 't' or 'normal', not {method!r}")


def power_two_means(
    *, difference: float, sd: float, n_per_group: float, alpha: float = 0.05, method: Method = "t"
) -> float:
    """Power to detect `difference` with `n_per_group` per arm."""
    return float(_engine(method).power(effect_size=difference / sd, nobs1=n_per_group, alpha=alpha, ratio=1.0))


def sample_size_two_means(
    *, difference: float, sd: float, power: float = 0.8, alpha: float = 0.05, method: Method = "t"
) -> int:
    """Subjects per arm (rounded up) for the given power."""
    n = _engine(method).solve_power(effect_size=difference / sd, nobs1=None, alpha=alpha, power=power, ratio=1.0)
    return math.ceil(float(n) - 1e-9)


def detectable_difference(
    *, sd: float, n_per_group: float, power: float = 0.8, alpha: float = 0.05, method: Method = "t"
) -> float:
    """Smallest difference detectable with the given power."""
    es = _engine(method).solve_power(effect_size=None, nobs1=n_per_group, alpha=alpha, power=power, ratio=1.0)
    return float(es) * sd
