"""Power of a follow-up trial enriched for raised hs-CRP, by simulation from this trial's fitted model.

The published moderation (protocol.md, "Published results": infliximab helps above ~5 mg/L
baseline hs-CRP) suggests a follow-up trial that enrols only participants above a threshold. Its
power has no closed form (MMRM, AR(1), a moderated effect), so it is simulated:

1. `PowerModel.from_fit` takes the fitted moderation MMRM (`chg ~ trt * week * (logcrp +
   I(logcrp**2))`, AR(1)): its fixed-effect coefficients give the mean change of a participant
   at each week from arm and baseline hs-CRP, and its residual covariance matrix over the weeks
   gives the within-participant noise.
2. A simulated trial enrols `n_per_arm` per arm whose baseline hs-CRP is drawn from this trial's
   observed baseline values above the threshold (resampled, not a fitted distribution: the
   quadratic in log hs-CRP must not be extrapolated beyond the hs-CRP values it was fitted on).
   Each outcome vector is mean + a draw from the residual covariance.
3. Each simulated trial is analysed as the follow-up trial's primary analysis would be, with
   `fit_mmrm` (default `chg ~ trt * week`, AR(1), between-within df), and the key term (default
   the treatment x time interaction) is tested two-sided at `alpha`.

Power is the share of simulated trials that reject, with a Wilson 95% Monte Carlo interval.
Everything is seeded per simulated trial (SeedSequence of the run's seed, the size and the
trial's index), so any chunking of the work gives the same answer: a re-run is identical.

Plain numpy/pandas/patsy; no Django.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import patsy
from scipy import stats as sps

from analysis.stats import sap
from analysis.stats.errors import StatsError
from analysis.stats.mmrm import MMRMResult, fit_mmrm

# The follow-up trial's analysis: the SAP's primary model (protocol.md, "Statistical analysis
# plan": time continuous, AR(1), Wald t test with between-within df) in the enriched population.
ANALYSIS_FORMULA = "chg ~ trt * week"
ANALYSIS_COVARIANCE = "ar1"
KEY_TERM = "trt:week"


@dataclass(frozen=True)
class PowerModel:
    """What a simulated trial is drawn from: JSON-safe, so it travels in a Celery message."""

    mean_formula: str  # right-hand side, in the columns trt (0/1), week, logcrp
    coefficients: dict[str, float]  # patsy column name -> value
    weeks: tuple[float, ...]  # post-baseline weeks
    residual_cov: tuple[tuple[float, ...], ...]  # over `weeks`
    baseline_crp_mg_l: tuple[float, ...]  # the hs-CRP values enrolment resamples from

    @classmethod
    def from_fit(cls, res: MMRMResult, *, baseline_crp_mg_l: Iterable[float]) -> PowerModel:
        rhs = res.formula.split("~", 1)[1].strip()
        weeks = tuple(float(w) for w in res.visit_levels if w not in res.empty_visit_levels)
        cov = res.covariance_matrix.loc[list(weeks), list(weeks)] if weeks else res.covariance_matrix
        return cls(
            mean_formula=rhs,
            coefficients={str(k): float(v) for k, v in res.coefficients["estimate"].items()},
            weeks=weeks,
            residual_cov=tuple(tuple(float(x) for x in row) for row in np.asarray(cov, dtype=float)),
            baseline_crp_mg_l=tuple(sorted(float(c) for c in baseline_crp_mg_l if c is not None and c > 0)),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PowerModel:
        return cls(
            mean_formula=str(d["mean_formula"]),
            coefficients={str(k): float(v) for k, v in d["coefficients"].items()},
            weeks=tuple(float(w) for w in d["weeks"]),
            residual_cov=tuple(tuple(float(x) for x in row) for row in d["residual_cov"]),
            baseline_crp_mg_l=tuple(float(c) for c in d["baseline_crp_mg_l"]),
        )

    def eligible_crp(self, threshold_mg_l: float) -> np.ndarray:
        """Observed baseline hs-CRP above the enrolment threshold (protocol.md enrolment is by
        screening hs-CRP; the follow-up enrols above `threshold_mg_l`)."""
        crp = np.asarray(self.baseline_crp_mg_l, dtype=float)
        eligible = crp[crp > threshold_mg_l]
        if not len(eligible):
            raise StatsError(f"No participant of this trial had a baseline hs-CRP above {threshold_mg_l:g} mg/L.")
        return eligible


def fit_moderation_model(frame: pd.DataFrame, *, active: object, control: object) -> tuple[MMRMResult, pd.Series]:
    """The SAP's moderation MMRM (sap.MODERATION_FORMULA, AR(1)) on the by-arm long frame, and
    each participant's baseline hs-CRP: the effect assumptions of the simulation."""
    data = sap._post_baseline(sap._with_treatment(frame, active, control))
    crp = sap._subject_crp(frame)
    data["logcrp"] = np.log(data["participant_id"].map(crp).astype(float))
    res = fit_mmrm(
        data, sap.MODERATION_FORMULA, subject="participant_id", visit="week", covariance=sap.PRIMARY_COVARIANCE
    )
    return res, crp


def simulate_enriched_trial(
    model: PowerModel, *, n_per_arm: int, crp_threshold_mg_l: float, rng: np.random.Generator
) -> pd.DataFrame:
    """One simulated trial, long layout: id, trt, week, chg, logcrp (post-baseline weeks only)."""
    eligible = model.eligible_crp(crp_threshold_mg_l)
    n = 2 * n_per_arm
    trt = (np.arange(n) % 2).astype(float)
    logcrp = np.log(rng.choice(eligible, size=n, replace=True))
    weeks = np.asarray(model.weeks, dtype=float)
    v = len(weeks)
    grid = pd.DataFrame({"trt": np.repeat(trt, v), "week": np.tile(weeks, n), "logcrp": np.repeat(logcrp, v)})
    x = patsy.dmatrix(model.mean_formula, grid, return_type="dataframe")
    missing = set(x.columns) - set(model.coefficients)
    if missing:
        raise StatsError(f"The fitted model has no coefficient for {sorted(missing)}.")
    beta = np.array([model.coefficients[c] for c in x.columns])
    mean = (x.to_numpy() @ beta).reshape(n, v)
    noise = rng.multivariate_normal(np.zeros(v), np.asarray(model.residual_cov, dtype=float), size=n)
    return pd.DataFrame(
        {
            "id": np.repeat(np.arange(1, n + 1), v),
            "trt": grid["trt"],
            "week": grid["week"],
            "logcrp": grid["logcrp"],
            "chg": (mean + noise).reshape(-1),
        }
    )


def trial_rng(seed: int, n_per_arm: int, index: int) -> np.random.Generator:
    """The generator of simulated trial `index` at size `n_per_arm`: independent of chunking."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(n_per_arm), int(index)]))


@dataclass(frozen=True)
class ChunkResult:
    n_per_arm: int
    first: int  # index of the first simulated trial of the chunk
    p_values: tuple[float | None, ...]  # None: the fit failed (counted, not rejected)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def simulate_power_chunk(
    model: PowerModel,
    *,
    n_per_arm: int,
    crp_threshold_mg_l: float,
    first: int,
    count: int,
    seed: int,
    formula: str = ANALYSIS_FORMULA,
    covariance: str = ANALYSIS_COVARIANCE,
    key_term: str = KEY_TERM,
) -> ChunkResult:
    """Simulate and fit trials first .. first+count-1 at one size; the key term's P of each."""
    p_values: list[float | None] = []
    for index in range(first, first + count):
        data = simulate_enriched_trial(
            model, n_per_arm=n_per_arm, crp_threshold_mg_l=crp_threshold_mg_l, rng=trial_rng(seed, n_per_arm, index)
        )
        try:
            res = fit_mmrm(data, formula, subject="id", visit="week", covariance=covariance)
            p = float(res.coefficients.loc[key_term, "p"])
        except (StatsError, np.linalg.LinAlgError, ValueError):
            p_values.append(None)
            continue
        p_values.append(p if math.isfinite(p) else None)
    return ChunkResult(n_per_arm=n_per_arm, first=first, p_values=tuple(p_values))


def plan_chunks(sizes: Sequence[int], n_sims: int, n_chunks: int) -> list[tuple[int, int, int]]:
    """(n_per_arm, first, count) for each chunk: every size's simulations cut into about
    n_chunks / len(sizes) pieces, so the work spreads over workers evenly."""
    per_size = max(1, math.ceil(n_chunks / max(1, len(sizes))))
    step = max(1, math.ceil(n_sims / per_size))
    return [(int(n), first, min(step, n_sims - first)) for n in sizes for first in range(0, n_sims, step)]


def wilson_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval: the Monte Carlo uncertainty of a simulated power."""
    if trials == 0:
        return (math.nan, math.nan)
    z = float(sps.norm.ppf(0.5 + level / 2))
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    # At 0 or all successes the bound is exactly 0 or 1; rounding must not move it inside.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return (low, high)


def power_table(chunks: Iterable[ChunkResult], *, alpha: float = 0.05) -> pd.DataFrame:
    """Power against sample size: n_per_arm, n_total, simulated, failed fits, rejected, power and
    its Monte Carlo 95% interval. A failed fit counts as not rejected (a conservative power)."""
    by_size: dict[int, list[float | None]] = {}
    for chunk in sorted(chunks, key=lambda c: (c.n_per_arm, c.first)):
        by_size.setdefault(chunk.n_per_arm, []).extend(chunk.p_values)
    rows = []
    for n, ps in sorted(by_size.items()):
        rejected = sum(1 for p in ps if p is not None and p < alpha)
        low, high = wilson_interval(rejected, len(ps))
        rows.append(
            {
                "n_per_arm": n,
                "n_total": 2 * n,
                "simulated": len(ps),
                "failed_fits": sum(1 for p in ps if p is None),
                "rejected": rejected,
                "power": rejected / len(ps) if ps else math.nan,
                "mc_ci_low": low,
                "mc_ci_high": high,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "n_per_arm",
            "n_total",
            "simulated",
            "failed_fits",
            "rejected",
            "power",
            "mc_ci_low",
            "mc_ci_high",
        ],
    )
