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

from dataclasses import dataclass

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

    # The treatment effect. Published results: the active-minus-control difference in change to
    # the end of treatment, against log baseline hs-CRP, crosses zero at 4.98 mg/L, and the
    # active arm does better above it. The slope gives about -3 points for hs-CRP > 5 mg/L and
    # about +4 for hs-CRP <= 5.
    crossing_mg_l: float = 4.98
    effect_per_log_crp: float = 4.2
    # Published results: a time effect in both arms and ~50% response under placebo; Sample
    # size: SD of the HAM-D change 7. These give placebo response ~50%, remission ~18% and an SD
    # of the end-of-treatment change of ~6.5 (control) to ~8 (active).
    control_change_at_end: float = -9.5
    change_sd: float = 5.5  # between-subject spread of the end-of-treatment change
    # Improvement builds up as 1 - exp(-week / time constant): most of it in the first weeks.
    time_constant_weeks: float = 4.0
    # Visit-to-visit wobble (rating error included), AR(1) in weeks: the SAP fits AR(1).
    residual_sd: float = 3.5
    residual_weekly_rho: float = 0.75

    # Schedule of assessments: in practice week 3 HAM-D was dropped for burden (11 of 60 have it)
    # and week 10 dropped then resumed (32 of 60 have it). (week, share of participants assessed).
    present_share: tuple[tuple[int, float], ...] = ((3, 11 / 60), (10, 32 / 60))

    # Published results: 29/30 placebo and 25/30 infliximab completed 12 weeks.
    dropout_control: float = 1 / 30
    dropout_active: float = 5 / 30

    def share_assessed(self, week: int) -> float:
        """The share of participants assessed at `week` by design (1 unless the trial dropped it)."""
        return dict(self.present_share).get(week, 1.0)

    def dropout(self, *, active: bool) -> float:
        return self.dropout_active if active else self.dropout_control


REFERENCE_SHAPE = TrialShape()
