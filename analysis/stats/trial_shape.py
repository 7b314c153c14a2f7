"""What a trial shaped like the reference one looks like: the simulation's assumptions, in one place.

These are not protocol facts (weeks, arms, criteria and ranges come from the protocol file). They
are the assumptions that make synthetic data look like the published trial (protocol.md, Published
results): baseline distributions, the hs-CRP moderation of the treatment effect, how fast people
improve, the visit-to-visit noise, missing-by-design visits and dropout. Both the seeded
simulation here (`analysis.stats.simulate`) and the demo-data generator (`trial.demo`) read them,
so the benchmarks, the SAP tests and the demo database all describe the same trial.

Plain Python, no Django: the demo imports this module, never the other way round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

__all__ = ["REFERENCE_SHAPE", "TrialShape"]


@dataclass(frozen=True)
class TrialShape:
    # Baseline hs-CRP. Published results (Table 1): 6.3 (8.9) vs 5.4 (8.2) mg/L; 37% above 5 mg/L,
    # 45% above 3 and 75% above 1. A log-normal with these parameters (median 3.3 mg/L) puts 36%
    # above 5; readings above the cap mean acute illness and are not drawn; the floor is a typical
    # lower limit of an immunoturbidimetric hs-CRP assay.
    crp_log_mu: float = 1.204
    crp_log_sigma: float = 1.167
    crp_cap_mg_l: float = 60.0
    crp_floor_mg_l: float = 0.1

    # Baseline HAM-D-17. Published results (Table 1): 24.1 (4.0) vs 23.6 (3.8). The range keeps
    # draws clinically plausible for a moderately to severely depressed sample.
    baseline_hamd_mean: float = 23.8
    baseline_hamd_sd: float = 4.0
    baseline_hamd_min: int = 12
    baseline_hamd_max: int = 40

    # These values are calibrated so that a typical seed gives the published TESTS, not only the
    # published effect sizes (trial.demo.calibration; tests/trial/demo/test_calibration.py holds
    # them to it over seeds 1-200; benchmarks/calibration.py prints the table).
    #
    # The treatment effect: the active-minus-control difference in change at the end of treatment,
    # against log baseline hs-CRP (`difference_at_end`). Published results: the difference curve
    # crosses zero at 4.98 mg/L and the active arm does better above it; the effect size at week
    # 12 is -0.82 at or below 5 mg/L but only 0.41 above it, so the curve is steep at low hs-CRP
    # and flattens above the crossing (`effect_curvature`, the SAP's quadratic term). The SAP
    # fits chg ~ trt * week * (logcrp + logcrp^2) and reads the three-way term at log hs-CRP 0,
    # where this curvature makes the slope steep enough for the published t302 = 2.65. The
    # true crossing sits a little below 4.98: the further up it is, the more the difference
    # averaged over everyone favours placebo, and the published trial found no treatment effect
    # and equal response overall (median fitted crossing 4.4 mg/L over seeds 1-200).
    crossing_mg_l: float = 4.2
    effect_per_log_crp: float = 5.8
    effect_curvature: float = 0.4
    # Published results: response at or below / above 5 mg/L was 41% / 62% under infliximab and
    # 57% / 33% under placebo, and placebo responders had a lower baseline hs-CRP than
    # non-responders (3.1 vs 7.8 mg/L): part of the hs-CRP dependence is placebo doing worse at
    # high hs-CRP, the rest infliximab doing better.
    control_share_of_moderation: float = 0.45
    # Published results: a time effect in both arms and 50% response in both arms, though the
    # week-12 effect sizes average out in favour of placebo: infliximab responses are more
    # spread out (`active_change_sd`). `control_change_at_end` is the control arm's mean change
    # at the end of treatment (averaged over hs-CRP). Sample size assumed an SD of the HAM-D
    # change of 7; here the week-12 SD is ~5 under placebo and ~11 under infliximab (~8.4
    # pooled; published d = 0.41 for 3.1 points implies ~7.6).
    control_change_at_end: float = -11.0
    change_sd: float = 4.0  # between-subject spread of the end-of-treatment change
    active_change_sd: float = 12.0  # ... under the active drug
    # The improvement both arms share builds up as 1 - exp(-week / time constant): mostly by
    # week 1-2, so the linear time trend over the 12 weeks stays modest (time t305 = 2.53).
    time_constant_weeks: float = 0.8
    # Visit-to-visit wobble (rating error included), AR(1) in weeks: the SAP fits AR(1). Small
    # enough for the differences in weekly slopes to be estimable as precisely as published.
    residual_sd: float = 1.5
    residual_weekly_rho: float = 0.75

    # Schedule of assessments: in practice week 3 HAM-D was dropped for burden (11 of 60 have it)
    # and week 10 dropped then resumed (32 of 60 have it). (week, share of participants assessed).
    present_share: tuple[tuple[int, float], ...] = ((3, 11 / 60), (10, 32 / 60))

    # Published results: 29/30 placebo and 25/30 infliximab completed 12 weeks.
    dropout_control: float = 1 / 30
    dropout_active: float = 5 / 30

    def difference_at_end(self, log_crp: FloatArray) -> FloatArray:
        """Active minus control change at the end of treatment by log baseline hs-CRP (negative: the
        active arm reduces HAM-D more). Zero at the crossing; past the vertex of the quadratic it
        stays flat rather than turning back."""
        x = log_crp - math.log(self.crossing_mg_l)
        if self.effect_curvature > 0:
            x = np.minimum(x, self.effect_per_log_crp / (2 * self.effect_curvature))
        return -self.effect_per_log_crp * x + self.effect_curvature * x * x

    def build_up(self, week: FloatArray) -> FloatArray:
        """Share of the shared improvement reached by `week` (0 at baseline, 1 at the last week)."""
        end = float(week[-1])
        return (1 - np.exp(-week / self.time_constant_weeks)) / (1 - math.exp(-end / self.time_constant_weeks))

    def average_difference_at_end(self) -> float:
        """`difference_at_end` averaged over the population's log-normal baseline hs-CRP."""
        nodes, weights = np.polynomial.hermite_e.hermegauss(40)
        log_crp = self.crp_log_mu + self.crp_log_sigma * nodes
        return float(np.sum(weights * self.difference_at_end(log_crp)) / np.sum(weights))

    def mean_change(self, *, log_crp: FloatArray, on_active: BoolArray, week: FloatArray) -> FloatArray:
        """Expected change from baseline, participants x weeks, before the participant's own spread.

        Both arms share an improvement that builds up over the first weeks (`build_up`). The
        treatment difference has two parts. Its average over the population's hs-CRP comes as
        early as the shared improvement, and its hs-CRP-dependent part grows linearly to the end
        of treatment: published results show no treatment x time effect (t305 = 0.86) but a
        treatment x time x log hs-CRP effect (t302 = 2.65), so the difference in weekly slopes
        depends on hs-CRP while its average does not move. The hs-CRP-dependent part is shared
        between the arms (`control_share_of_moderation`): under placebo, higher hs-CRP means
        less improvement, under infliximab more.
        """
        end = float(week[-1])
        shared = self.build_up(week)
        average = self.average_difference_at_end()
        moderation = self.difference_at_end(log_crp) - average
        arm_share = np.where(on_active, 1 - self.control_share_of_moderation, -self.control_share_of_moderation)
        level = self.control_change_at_end + np.where(on_active, average, 0.0)
        return level[:, None] * shared[None, :] + (arm_share * moderation)[:, None] * (week[None, :] / end)

    def spread(self, on_active: BoolArray) -> FloatArray:
        """Each participant's between-subject SD of the end-of-treatment change, by arm."""
        return np.where(on_active, self.active_change_sd, self.change_sd)

    def share_assessed(self, week: int) -> float:
        """The share of participants assessed at `week` by design (1 unless the trial dropped it)."""
        return dict(self.present_share).get(week, 1.0)

    def dropout(self, *, active: bool) -> float:
        return self.dropout_active if active else self.dropout_control


REFERENCE_SHAPE = TrialShape()
