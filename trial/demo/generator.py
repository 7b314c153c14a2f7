"""Seeded, Django-free generator of synthetic data shaped like the reference trial.

The demo seeding command and the scale tests need data that looks like Raison et al. 2013
(protocol.md): the same baseline distributions, the published hs-CRP moderation of the
infliximab effect, missing-by-design visits, dropout, adverse events and a trial caught
mid-way through recruitment. Nothing here touches the database, so the generator stays
fast (vectorised with numpy) and testable without Django.

Determinism: the population depends only on ``(n, seed, today, recruitment_days)``; a
course depends only on ``(seed, participant, arm, today, weeks, infusion_weeks)``. Every
course draws from its own random stream, keyed by ``(seed, participant.index, arm)``, so it
does not change when other participants are added or generated in a different batch.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DEFAULT_INFUSION_WEEKS",
    "DEFAULT_WEEKS",
    "EXCLUSION_CRITERIA",
    "HAMD_ITEM_MAX",
    "INCLUSION_CRITERIA",
    "WITHDRAWAL_REASONS",
    "Arm",
    "Stage",
    "SyntheticAE",
    "SyntheticCourse",
    "SyntheticInfusion",
    "SyntheticParticipant",
    "SyntheticVisit",
    "SyntheticWithdrawal",
    "generate_course",
    "generate_courses",
    "generate_population",
    "hamd_total",
]

Arm = Literal["infliximab", "placebo"]
Stage = Literal["screening", "screen_failed", "enrolled"]
Sex = Literal["F", "M"]
VisitStatus = Literal["done", "missed"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

# --------------------------------------------------------------------------------------
# Protocol facts
# --------------------------------------------------------------------------------------

# protocol.md, Schedule of assessments: visits at weeks 0-4, 6, 8, 10, 12.
DEFAULT_WEEKS: Final[tuple[int, ...]] = (0, 1, 2, 3, 4, 6, 8, 10, 12)
# protocol.md, Design: three infusions, at weeks 0, 2 and 6.
DEFAULT_INFUSION_WEEKS: Final[tuple[int, ...]] = (0, 2, 6)
# protocol.md, Design: each infusion runs over 120 minutes from a 250 mL saline bag.
INFUSION_MINUTES: Final = 120
INFUSION_BAG_ML: Final = 250
# protocol.md, Design: the baseline visit is no later than 1 month after screening.
MAX_SCREENING_TO_BASELINE_DAYS: Final = 30
# protocol.md, End points: the primary end point is the change at week 12.
END_OF_TREATMENT_WEEK: Final = 12

# protocol.md, Instruments: HAM-D-17 items 1-3, 7-11 and 15 score 0-4, the others 0-2.
HAMD_ITEM_MAX: Final[tuple[int, ...]] = (4, 4, 4, 2, 2, 2, 4, 4, 4, 4, 4, 2, 2, 2, 4, 2, 2)
_HAMD_SUICIDE_ITEM: Final = 2  # zero-based position of item 3 (suicide)
# protocol.md, Eligibility: HAM-D item 3 >= 3 is active suicidal ideation (an exclusion).
_SUICIDAL_IDEATION_SCORE: Final = 3

# protocol.md, Eligibility, in the order the protocol lists them.
INCLUSION_CRITERIA: Final[tuple[str, ...]] = (
    "age_25_60",
    "major_depression_scid",
    "stable_antidepressant_4wk",
    "mgh_s_ge_2",
    "qids_sr_ge_14",
    "informed_consent",
)
EXCLUSION_CRITERIA: Final[tuple[str, ...]] = (
    "autoimmune_disorder",
    "tuberculosis_risk",
    "hepatitis_or_hiv",
    "active_fungal_or_recurrent_infection",
    "cancer_history",
    "unstable_medical_illness",
    "schizophrenia_or_psychosis",
    "substance_abuse_6mo",
    "active_suicidal_ideation",
    "mmse_lt_28",
)
_AGE_MIN, _AGE_MAX = 25, 60  # protocol.md, Eligibility: age 25 to 60
_MGH_S_MIN = 2.0  # protocol.md, Eligibility: MGH-S >= 2
_QIDS_SR_MIN = 14  # protocol.md, Eligibility: QIDS-SR >= 14
_MMSE_MIN = 28  # protocol.md, Eligibility: MMSE < 28 excludes

# Criteria with no measured field here fail by a flat chance per screened person. Together
# with the measured ones (age, MGH-S, QIDS-SR, HAM-D item 3, MMSE) about 17% of screened
# people fail, which is what the issue asks for (15-20%).
_FLAG_FAILURE_RATE: Final[dict[str, float]] = {
    "major_depression_scid": 0.010,
    "stable_antidepressant_4wk": 0.010,
    "informed_consent": 0.010,
    "autoimmune_disorder": 0.005,
    "tuberculosis_risk": 0.008,
    "hepatitis_or_hiv": 0.004,
    "active_fungal_or_recurrent_infection": 0.005,
    "cancer_history": 0.004,
    "unstable_medical_illness": 0.010,
    "schizophrenia_or_psychosis": 0.005,
    "substance_abuse_6mo": 0.010,
}
_AGE_OUT_OF_RANGE_RATE: Final = 0.015

# protocol.md, Published results (Table 1): 67% female.
_FEMALE_SHARE: Final = 0.67
# Table 1: age 42.5 (8.2) vs 44.3 (9.4). A normal(43.8, 13) truncated to [25, 61) and
# floored gives mean ~43 and SD ~9 within the eligible range.
_AGE_LOC, _AGE_SCALE = 43.8, 13.0
# Table 1: BMI 31.2 (6.9) vs 32.7 (8.0); log-normal with mean 32 and SD 7.5.
_BMI_MEAN, _BMI_SD = 32.0, 7.5
# Table 1: hs-CRP 6.3 (8.9) vs 5.4 (8.2) mg/L; 37% above 5 mg/L, 45% above 3 and 75% above 1.
# A plain log-normal with mean 6 and SD 8.5 puts 36% above 5 (55% above 3, 88% above 1) but its
# tail is so heavy that the sample SD swings by +-1 even at n = 4000. Readings above 60 mg/L
# mean acute illness, so they are redrawn (truncated); with the cap, mean 6 and >5 at 36% give
# SD 7.7, 53% above 3 and 85% above 1. Mean 6, SD 8.5 and 37% above 5 cannot all hold at once.
_CRP_LOG_MU, _CRP_LOG_SIGMA = 1.204, 1.167
_CRP_CAP_MG_L = 60.0
_CRP_FLOOR_MG_L = 0.1  # typical lower limit of an immunoturbidimetric hs-CRP assay
# Adiposity raises CRP; a modest correlation keeps both marginals intact.
_CRP_BMI_CORRELATION = 0.3
# Table 1: HAM-D 24.1 (4.0) vs 23.6 (3.8). Slightly below 24 because the QIDS-SR cut, which
# correlates with HAM-D, removes a few of the mildest.
_HAMD_LOC, _HAMD_SCALE = 23.8, 4.0
_QIDS_LOC, _QIDS_SCALE, _QIDS_HAMD_CORRELATION = 18.0, 2.3, 0.4
# Table 1: CGI-S 4.8 (0.6) vs 4.8 (0.8).
_CGI_AT_HAMD_24 = 4.8
_CGI_NOISE_SD = 0.4
# Table 1: bipolar 9 of 60; 37 of 60 on antidepressants.
_BIPOLAR_SHARE, _ANTIDEPRESSANT_SHARE = 0.15, 0.62
# Table 1: episode duration 184 (149) vs 239 (165) months. The episode cannot predate age 8,
# and that cap trims the log-normal to a mean of ~210 but an SD of only ~125: an SD of 155
# is out of reach for people aged 25-60 (even a uniform spread over their lives gives ~130).
_EPISODE_MEAN, _EPISODE_SD = 260.0, 240.0
_EPISODE_EARLIEST_ONSET_AGE = 8
# Screening HAM-D item 3 (suicide): P(score = 0..4); 3% have >= 3 and fail screening.
_ITEM3_PROBABILITIES: Final = (0.60, 0.25, 0.12, 0.025, 0.005)
_MMSE_DEFICIT_MEAN = 0.5  # Poisson deficit below 30: ~1.4% score under 28
_MGH_S_MEDIAN, _MGH_S_LOG_SD = 3.5, 0.35  # ~2.4% stage under 2

# Time from screening to the eligibility decision (labs, TB test, chest X-ray); people whose
# decision is still due on `today` are in stage "screening".
_DECISION_LAG_DAYS = (7, 21)

# HAM-D trajectory. protocol.md, Published results: the infliximab minus placebo difference in
# change to week 12, against log baseline hs-CRP, crosses zero at 4.98 mg/L; above it
# infliximab does better (3.1 points more reduction when hs-CRP > 5).
_CRP_CROSSING_MG_L = 4.98
_EFFECT_PER_LOG_CRP = 4.2  # gives ~ -3 points for hs-CRP > 5 and ~ +4 for hs-CRP <= 5
# protocol.md, Published results: a time effect in both arms, ~50% response under placebo;
# Sample size: SD of the HAM-D change 7. These give placebo response ~50%, remission ~18%
# and an SD of the week-12 change of ~6.5 (placebo) to ~8 (infliximab).
_PLACEBO_CHANGE_WEEK_12 = -9.5
_CHANGE_SD = 5.5  # between-subject spread of the week-12 change
_RESPONSE_TIME_CONSTANT_WEEKS = 4.0  # most improvement comes in the first weeks
_HAMD_RESIDUAL_SD = 3.5  # visit-to-visit wobble, rating error included
_HAMD_RESIDUAL_WEEKLY_CORRELATION = 0.75  # AR(1)-like, per week apart (the SAP fits AR(1))
_HAMD_MAX_TOTAL = 44  # protocol allows 52; nobody realistic scores above the mid-40s

# HAM-D item profile: share of each item's maximum scored by a typical participant with
# treatment-resistant depression (depressed mood and work high, insight and suicide low).
_HAMD_ITEM_FILL: Final = (
    0.70, 0.40, 0.18, 0.60, 0.65, 0.50, 0.72, 0.22, 0.20,
    0.55, 0.40, 0.35, 0.70, 0.55, 0.15, 0.25, 0.10,
)  # fmt: skip
_HAMD_ITEM_PROFILE_SD = 0.5  # per-participant item propensity, stable across visits

# protocol.md, Schedule of assessments: week 3 HAM-D was dropped for burden (11 of 60 have
# it) and week 10 dropped then resumed (32 of 60 have it): missing by design.
_DESIGN_PRESENT_SHARE: Final[dict[int, float]] = {3: 11 / 60, 10: 32 / 60}
_DESIGN_MISSED_REASON: Final[dict[int, str]] = {
    3: "not scheduled (burden)",
    10: "not scheduled (assessment paused)",
}
_SPORADIC_MISS_RATE = 0.02  # ordinary no-shows at non-infusion visits
_SPORADIC_MISSED_REASON = "participant unavailable"

# protocol.md, Published results: 29/30 placebo and 25/30 infliximab completed 12 weeks.
_DROPOUT_RATE: Final[dict[str, float]] = {"placebo": 1 / 30, "infliximab": 5 / 30}
WITHDRAWAL_REASONS: Final[tuple[str, ...]] = (
    "lack of efficacy",
    "adverse event",
    "lost to follow-up",
    "withdrew consent",
    "protocol violation",
)
_WITHDRAWAL_REASON_PROBABILITIES: Final[dict[str, tuple[float, ...]]] = {
    "placebo": (0.35, 0.05, 0.25, 0.25, 0.10),
    "infliximab": (0.20, 0.35, 0.15, 0.20, 0.10),
}

# protocol.md, Design: an infusion is delayed while a participant shows signs of infection.
# The baseline infusion is never delayed here, because baseline itself is only scheduled when
# the participant is well; 7.5% of the later ones gives ~5% of all infusions.
_INFUSION_DELAY_RATE = 0.075
_INFUSION_DELAY_DAYS = (2, 6)  # short enough never to reach the next weekly visit
_INFUSION_DELAY_REASON = "signs of infection"
_INFUSION_REACTION_RATE: Final[dict[str, float]] = {"placebo": 0.01, "infliximab": 0.03}
_INFUSION_REACTION = "mild infusion reaction (flushing)"
# protocol.md, Schedule of assessments: blood between 8 and 10 AM after 30 min rest, so the
# infusion starts after it, between 09:30 and 11:30.
_INFUSION_FIRST_START_MINUTE = 9 * 60 + 30
_INFUSION_START_SLOTS = 25  # 5-minute slots from 09:30 to 11:30

# hs-CRP course. protocol.md, Published results: infliximab lowers hs-CRP at every visit
# after baseline; placebo stays roughly flat.
_CRP_BASELINE_LOG_SD = 0.2  # screening to baseline variation (up to a month apart)
_CRP_LOG_SD = 0.3
_CRP_WEEKLY_CORRELATION = 0.8
_INFLIXIMAB_CRP_LOG_DROP = 0.6  # ~45% lower once infliximab is on board
_DRUG_ONSET_WEEKS = 1.0

# TNF and soluble receptors (protocol.md, Statistical analysis plan: exploratory). Plausible
# plasma levels in pg/mL; the infliximab shifts are illustrative, not published.
_BIOMARKERS: Final[tuple[str, ...]] = ("tnf", "stnfr1", "stnfr2")
_BIOMARKER_MEDIAN: Final = (2.5, 1200.0, 3000.0)
_BIOMARKER_LOG_SD: Final = (0.35, 0.25, 0.30)
_BIOMARKER_CRP_CORRELATION: Final = (0.3, 0.3, 0.3)
_BIOMARKER_VISIT_LOG_SD = 0.12
_BIOMARKER_INFLIXIMAB_LOG_SHIFT: Final = (-0.25, -0.10, -0.15)
_BIOMARKER_FLOOR: Final = (0.5, 200.0, 500.0)
_BIOMARKER_DECIMALS: Final = (2, 1, 1)
# protocol.md, Schedule of assessments: ELISA in duplicate, CV <= 10%. The cap leaves room
# for rounding the replicates.
_DUPLICATE_CV_SD, _DUPLICATE_CV_CAP = 0.035, 0.08

# Weight: small drift around the screening weight.
_WEIGHT_DRIFT_SD_KG_PER_WEEK = 0.08
_WEIGHT_VISIT_SD_KG = 0.4

# protocol.md, Safety / Published results (Table 2): per-arm participant incidence
# (placebo, infliximab) of each adverse event term. No serious adverse events.
ADVERSE_EVENT_INCIDENCE: Final[dict[str, tuple[float, float]]] = {
    "headache": (0.60, 0.67),
    "coughing": (0.13, 0.20),
    "sore throat": (0.17, 0.20),
    "insomnia": (0.13, 0.17),
    "diarrhea": (0.10, 0.13),
    "upper respiratory infection": (0.20, 0.23),
    "nasal congestion": (0.10, 0.13),
    "myalgia": (0.07, 0.13),
    "panic attacks": (0.03, 0.07),
    "rash": (0.07, 0.10),
    "fever": (0.03, 0.07),
    "urinary leukocyte esterase": (0.00, 0.33),
    "sinus congestion": (0.07, 0.10),
    "yeast infection": (0.03, 0.07),
    "urinary white blood cells": (0.03, 0.10),
}
_AE_TERMS: Final = tuple(ADVERSE_EVENT_INCIDENCE)
# Terms that are signs of infection, so an infusion delayed for infection can point at them.
_INFECTION_TERMS: Final = frozenset(
    {
        "coughing",
        "sore throat",
        "upper respiratory infection",
        "nasal congestion",
        "fever",
        "sinus congestion",
        "yeast infection",
    }
)
AE_SEVERITIES: Final = ("mild", "moderate", "severe")
_AE_SEVERITY_PROBABILITIES: Final = (0.75, 0.22, 0.03)
AE_RELATEDNESS: Final = ("not related", "unlikely", "possible", "probable", "definite")
_AE_RELATEDNESS_PROBABILITIES: Final[dict[str, tuple[float, ...]]] = {
    "placebo": (0.45, 0.30, 0.20, 0.05, 0.00),
    "infliximab": (0.30, 0.30, 0.28, 0.10, 0.02),
}
AE_ACTIONS: Final = ("none", "concomitant medication", "dose delayed", "study drug withdrawn")
_AE_CONCOMITANT_MEDICATION_RATE = 0.12
AE_OUTCOMES: Final = ("recovered", "recovering", "not recovered")
_AE_INFUSION_LINKED_SHARE = 0.5  # half the events start within days of an infusion
_AE_MEDIAN_DAYS, _AE_DURATION_LOG_SD = 4.0, 0.8
_AE_PERSISTING_RATE = 0.04  # not resolved whatever the follow-up
_AE_RECOVERING_SHARE = 0.7  # of unresolved events

# Independent random streams, so population and course draws never overlap.
_POPULATION_STREAM: Final = 1
_COURSE_STREAM: Final = 2
_ARM_CODE: Final[dict[str, int]] = {"placebo": 0, "infliximab": 1}


# --------------------------------------------------------------------------------------
# Data shapes
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SyntheticParticipant:
    """One screened person, as of the population's `today`."""

    index: int
    screening_number: str
    sex: Sex
    age: int
    date_of_birth: dt.date
    height_cm: float
    weight_kg: float
    bmi: float
    screening_date: dt.date
    screening_crp_mg_l: float
    qids_sr: int
    mmse: int
    mgh_s: float
    hamd_item3: int
    bipolar: bool
    on_antidepressant: bool
    episode_duration_months: int
    criteria: dict[str, bool]
    eligible: bool
    failed_criteria: tuple[str, ...]
    stage: Stage
    consent_date: dt.date | None
    baseline_date: dt.date | None
    # When baseline is (or would be) for an eligible person, even if after `today`; the
    # course is scheduled from it.
    scheduled_baseline_date: dt.date | None
    # Week-0 HAM-D-17 total and CGI-S an eligible person will have at baseline.
    baseline_hamd: int | None
    baseline_cgi_s: int | None


@dataclass(frozen=True, slots=True)
class SyntheticInfusion:
    delayed_days: int
    delay_reason: str | None
    start_time: dt.time
    stop_time: dt.time
    reaction: str | None
    volume_ml: int = INFUSION_BAG_ML


@dataclass(frozen=True, slots=True)
class SyntheticVisit:
    week: int
    date: dt.date
    status: VisitStatus
    missed_reason: str | None
    hamd_items: tuple[int, ...] | None
    cgi_s: int | None
    # analyte -> (value, replicate 1, replicate 2); hs-CRP has no replicates.
    labs: dict[str, tuple[float, float | None, float | None]]
    weight_kg: float | None
    systolic: int | None
    diastolic: int | None
    heart_rate: int | None
    temperature_c: float | None
    infusion: SyntheticInfusion | None


@dataclass(frozen=True, slots=True)
class SyntheticAE:
    term: str
    onset_date: dt.date
    onset_day: int  # days since baseline
    end_date: dt.date | None  # None while ongoing
    ongoing: bool
    severity: str
    related: str
    action: str
    outcome: str
    serious: bool = False  # protocol.md, Published results: no serious adverse events


@dataclass(frozen=True, slots=True)
class SyntheticWithdrawal:
    date: dt.date
    reason: str
    last_visit_week: int


@dataclass(frozen=True, slots=True)
class SyntheticCourse:
    participant_index: int
    arm: Arm
    visits: list[SyntheticVisit]
    adverse_events: list[SyntheticAE]
    withdrawal: SyntheticWithdrawal | None
    completed: bool


def hamd_total(items: Sequence[int]) -> int:
    """HAM-D-17 total (protocol.md, Instruments: the sum of the 17 item scores)."""
    if len(items) != len(HAMD_ITEM_MAX):
        raise ValueError(f"HAM-D-17 has {len(HAMD_ITEM_MAX)} items, got {len(items)}")
    return int(sum(items))


# --------------------------------------------------------------------------------------
# Population
# --------------------------------------------------------------------------------------


def generate_population(
    *, n: int, seed: int, today: dt.date, recruitment_days: int = 420
) -> list[SyntheticParticipant]:
    """Screen `n` people over the `recruitment_days` before `today`, in screening order."""
    if n < 0:
        raise ValueError("n must be >= 0")
    if recruitment_days < 1:
        raise ValueError("recruitment_days must be >= 1")
    if n == 0:
        return []
    rng = np.random.default_rng([seed, _POPULATION_STREAM])

    # Stratified jitter spreads screening evenly up to just before `today`, so every run
    # leaves the trial mid-way: most finished, some in follow-up, a few still screening.
    day_offsets = np.floor((np.arange(n) + rng.random(n)) * (recruitment_days / n))
    screening_ord = today.toordinal() - recruitment_days + day_offsets.astype(np.int64)

    female = rng.random(n) < _FEMALE_SHARE
    age = _ages(rng, n)
    height_cm = np.where(female, rng.normal(163.0, 6.5, n), rng.normal(177.0, 7.0, n)).round(1)

    z_bmi = rng.standard_normal(n)
    z_crp = _CRP_BMI_CORRELATION * z_bmi + math.sqrt(1 - _CRP_BMI_CORRELATION**2) * rng.standard_normal(n)
    bmi_mu, bmi_sigma = _lognormal_parameters(_BMI_MEAN, _BMI_SD)
    bmi_raw = np.clip(np.exp(bmi_mu + bmi_sigma * z_bmi), 17.0, 65.0)
    weight_kg = (bmi_raw * (height_cm / 100) ** 2).round(1)
    bmi = (weight_kg / (height_cm / 100) ** 2).round(1)
    crp = np.maximum(np.exp(_CRP_LOG_MU + _CRP_LOG_SIGMA * _redraw_above(rng, z_crp, _CRP_Z_CAP)), _CRP_FLOOR_MG_L)
    crp = crp.round(2)

    z_hamd = rng.standard_normal(n)
    baseline_hamd = np.clip(np.rint(_HAMD_LOC + _HAMD_SCALE * z_hamd), 12, 40)
    baseline_cgi = _cgi_from_hamd(baseline_hamd, rng.standard_normal(n))
    z_qids = _QIDS_HAMD_CORRELATION * z_hamd + math.sqrt(1 - _QIDS_HAMD_CORRELATION**2) * rng.standard_normal(n)
    qids = np.clip(np.rint(_QIDS_LOC + _QIDS_SCALE * z_qids), 0, 27).astype(np.int64)
    mmse = 30 - np.minimum(rng.poisson(_MMSE_DEFICIT_MEAN, n), 10)
    mgh_s = np.rint(2 * _MGH_S_MEDIAN * np.exp(_MGH_S_LOG_SD * rng.standard_normal(n))) / 2
    item3 = rng.choice(len(_ITEM3_PROBABILITIES), size=n, p=_ITEM3_PROBABILITIES)
    bipolar = rng.random(n) < _BIPOLAR_SHARE
    on_antidepressant = rng.random(n) < _ANTIDEPRESSANT_SHARE
    episode_mu, episode_sigma = _lognormal_parameters(_EPISODE_MEAN, _EPISODE_SD)
    episode_months = np.clip(
        np.rint(np.exp(episode_mu + episode_sigma * rng.standard_normal(n))),
        2,
        np.maximum((age - _EPISODE_EARLIEST_ONSET_AGE) * 12, 2),
    ).astype(np.int64)
    flag_failed = {name: rng.random(n) < rate for name, rate in _FLAG_FAILURE_RATE.items()}

    decision_lag = rng.integers(_DECISION_LAG_DAYS[0], _DECISION_LAG_DAYS[1] + 1, n)
    baseline_lag = rng.integers(decision_lag + 1, MAX_SCREENING_TO_BASELINE_DAYS + 1)
    birthday_back_days = rng.integers(0, 365, n)

    met = {
        "age_25_60": (age >= _AGE_MIN) & (age <= _AGE_MAX),
        "mgh_s_ge_2": mgh_s >= _MGH_S_MIN,
        "qids_sr_ge_14": qids >= _QIDS_SR_MIN,
        "active_suicidal_ideation": item3 >= _SUICIDAL_IDEATION_SCORE,
        "mmse_lt_28": mmse < _MMSE_MIN,
    }
    for name, failed in flag_failed.items():
        met[name] = ~failed if name in INCLUSION_CRITERIA else failed
    eligible = np.ones(n, dtype=bool)
    for name in INCLUSION_CRITERIA:
        eligible &= met[name]
    for name in EXCLUSION_CRITERIA:
        eligible &= ~met[name]

    today_ord = today.toordinal()
    decision_ord = screening_ord + decision_lag
    baseline_ord = screening_ord + baseline_lag

    columns = {
        "female": female.tolist(),
        "age": age.tolist(),
        "height": height_cm.tolist(),
        "weight": weight_kg.tolist(),
        "bmi": bmi.tolist(),
        "screening": screening_ord.tolist(),
        "crp": crp.tolist(),
        "qids": qids.tolist(),
        "mmse": mmse.tolist(),
        "mgh_s": mgh_s.tolist(),
        "item3": item3.tolist(),
        "bipolar": bipolar.tolist(),
        "antidepressant": on_antidepressant.tolist(),
        "episode": episode_months.tolist(),
        "eligible": eligible.tolist(),
        "decision": decision_ord.tolist(),
        "baseline": baseline_ord.tolist(),
        "hamd": baseline_hamd.astype(np.int64).tolist(),
        "cgi": baseline_cgi.tolist(),
        "birthday_back": birthday_back_days.tolist(),
    }
    criteria_columns = {name: met[name].tolist() for name in (*INCLUSION_CRITERIA, *EXCLUSION_CRITERIA)}

    population: list[SyntheticParticipant] = []
    for i in range(n):
        criteria = {name: bool(values[i]) for name, values in criteria_columns.items()}
        failed_criteria = tuple(
            [name for name in INCLUSION_CRITERIA if not criteria[name]]
            + [name for name in EXCLUSION_CRITERIA if criteria[name]]
        )
        is_eligible = bool(columns["eligible"][i])
        screening_date = dt.date.fromordinal(columns["screening"][i])
        stage: Stage
        if columns["decision"][i] > today_ord:
            stage = "screening"
        elif is_eligible:
            stage = "enrolled"
        else:
            stage = "screen_failed"
        scheduled_baseline = dt.date.fromordinal(columns["baseline"][i]) if is_eligible else None
        population.append(
            SyntheticParticipant(
                index=i,
                screening_number=f"S{i + 1:04d}",
                sex="F" if columns["female"][i] else "M",
                age=columns["age"][i],
                date_of_birth=_date_of_birth(screening_date, columns["age"][i], columns["birthday_back"][i]),
                height_cm=columns["height"][i],
                weight_kg=columns["weight"][i],
                bmi=columns["bmi"][i],
                screening_date=screening_date,
                screening_crp_mg_l=columns["crp"][i],
                qids_sr=columns["qids"][i],
                mmse=columns["mmse"][i],
                mgh_s=columns["mgh_s"][i],
                hamd_item3=columns["item3"][i],
                bipolar=columns["bipolar"][i],
                on_antidepressant=columns["antidepressant"][i],
                episode_duration_months=columns["episode"][i],
                criteria=criteria,
                eligible=is_eligible,
                failed_criteria=failed_criteria,
                stage=stage,
                consent_date=(dt.date.fromordinal(columns["decision"][i]) if stage == "enrolled" else None),
                baseline_date=(
                    scheduled_baseline
                    if stage == "enrolled" and scheduled_baseline is not None and scheduled_baseline <= today
                    else None
                ),
                scheduled_baseline_date=scheduled_baseline,
                baseline_hamd=columns["hamd"][i] if is_eligible else None,
                baseline_cgi_s=columns["cgi"][i] if is_eligible else None,
            )
        )
    return population


def _ages(rng: np.random.Generator, n: int) -> IntArray:
    continuous = rng.normal(_AGE_LOC, _AGE_SCALE, n)
    outside = (continuous < _AGE_MIN) | (continuous >= _AGE_MAX + 1)
    while outside.any():
        continuous[outside] = rng.normal(_AGE_LOC, _AGE_SCALE, int(outside.sum()))
        outside = (continuous < _AGE_MIN) | (continuous >= _AGE_MAX + 1)
    age = np.floor(continuous).astype(np.int64)
    # A few people outside the protocol's age range come to screening and fail it.
    out_of_range = rng.random(n) < _AGE_OUT_OF_RANGE_RATE
    too_young = rng.random(n) < 0.5
    wrong_age = np.where(too_young, rng.integers(18, _AGE_MIN, n), rng.integers(_AGE_MAX + 1, 71, n))
    return np.where(out_of_range, wrong_age, age)


_CRP_Z_CAP: Final = (math.log(_CRP_CAP_MG_L) - _CRP_LOG_MU) / _CRP_LOG_SIGMA


def _redraw_above(rng: np.random.Generator, z: FloatArray, cap: float) -> FloatArray:
    """Standard normal scores truncated at `cap`: those above it are drawn again."""
    z = z.copy()
    above = z >= cap
    while above.any():
        z[above] = rng.standard_normal(int(above.sum()))
        above = z >= cap
    return z


def _date_of_birth(screening_date: dt.date, age: int, days_since_birthday: int) -> dt.date:
    last_birthday = screening_date - dt.timedelta(days=days_since_birthday)
    try:
        return last_birthday.replace(year=last_birthday.year - age)
    except ValueError:  # 29 February in a year that has none
        return last_birthday.replace(year=last_birthday.year - age, day=28)


def _lognormal_parameters(mean: float, sd: float) -> tuple[float, float]:
    """(mu, sigma) of the log-normal with this arithmetic mean and SD."""
    sigma_squared = math.log(1 + (sd / mean) ** 2)
    return math.log(mean) - sigma_squared / 2, math.sqrt(sigma_squared)


def _cgi_from_hamd(hamd: FloatArray, noise: FloatArray) -> IntArray:
    # CGI-S tracks HAM-D: 4.8 at a HAM-D of 24 (Table 1), 1 (normal) at 0; the power curve
    # gives ~0.7 SD at baseline and CGI 2-3 at remission.
    raw = 1 + (_CGI_AT_HAMD_24 - 1) * (np.maximum(hamd, 0) / 24) ** 0.8
    return np.clip(np.rint(raw + _CGI_NOISE_SD * noise), 1, 7).astype(np.int64)


# --------------------------------------------------------------------------------------
# Courses
# --------------------------------------------------------------------------------------


def generate_course(
    p: SyntheticParticipant,
    *,
    arm: Arm,
    seed: int,
    today: dt.date,
    weeks: Sequence[int] = DEFAULT_WEEKS,
    infusion_weeks: Sequence[int] = DEFAULT_INFUSION_WEEKS,
) -> SyntheticCourse:
    """The course of one eligible participant on `arm`, with visits up to `today`."""
    return generate_courses([p], [arm], seed=seed, today=today, weeks=weeks, infusion_weeks=infusion_weeks)[0]


def generate_courses(
    participants: Sequence[SyntheticParticipant],
    arms: Sequence[Arm],
    *,
    seed: int,
    today: dt.date,
    weeks: Sequence[int] = DEFAULT_WEEKS,
    infusion_weeks: Sequence[int] = DEFAULT_INFUSION_WEEKS,
) -> list[SyntheticCourse]:
    """Vectorised `generate_course`: same output per participant, much faster in bulk."""
    weeks = tuple(weeks)
    infusion_weeks = tuple(infusion_weeks)
    _check_schedule(weeks, infusion_weeks)
    if len(participants) != len(arms):
        raise ValueError("one arm per participant is needed")
    for p, arm in zip(participants, arms, strict=True):
        if arm not in _ARM_CODE:
            raise ValueError(f"unknown arm {arm!r}")
        if not p.eligible or p.scheduled_baseline_date is None:
            raise ValueError(f"{p.screening_number} is not eligible, so has no course")
    if not participants:
        return []
    draws = _CourseDraws(participants, arms, seed=seed, n_visits=len(weeks))
    plan = _plan_courses(participants, arms, draws, weeks=weeks, infusion_weeks=infusion_weeks)
    return [
        _build_course(i, p, arm, plan, draws, today=today, weeks=weeks, infusion_weeks=infusion_weeks)
        for i, (p, arm) in enumerate(zip(participants, arms, strict=True))
    ]


def _check_schedule(weeks: tuple[int, ...], infusion_weeks: tuple[int, ...]) -> None:
    if not weeks or weeks[0] != 0:
        raise ValueError("weeks must start at baseline (week 0)")
    if any(later <= earlier for earlier, later in itertools.pairwise(weeks)):
        raise ValueError("weeks must be strictly increasing")
    if not set(infusion_weeks) <= set(weeks):
        raise ValueError("every infusion week must be a visit week")


class _CourseDraws:
    """All random numbers of a batch of courses, one independent stream per participant.

    Each participant's numbers come from two fixed-size draws of its own generator, so a
    course is the same whether generated alone or in a batch of ten thousand; the maths on
    them is then vectorised across the batch.
    """

    def __init__(
        self,
        participants: Sequence[SyntheticParticipant],
        arms: Sequence[Arm],
        *,
        seed: int,
        n_visits: int,
    ) -> None:
        v = n_visits
        n_terms = len(_AE_TERMS)
        self._normal_slices = _layout(
            [
                ("change", 1),
                ("hamd_residual", v),
                ("cgi", v),
                ("crp_baseline", 1),
                ("crp", v),
                ("biomarker_level", len(_BIOMARKERS)),
                ("biomarker", len(_BIOMARKERS) * v),
                ("duplicate_cv", len(_BIOMARKERS) * v),
                ("weight_drift", 1),
                ("weight", v),
                ("vital_level", 4),
                ("vital", 4 * v),
                ("item_profile", len(HAMD_ITEM_MAX)),
                ("ae_duration", n_terms),
            ]
        )
        self._uniform_slices = _layout(
            [
                ("hamd_slots", sum(HAMD_ITEM_MAX) * v),
                ("design", v),
                ("sporadic", v),
                ("withdrawal", 4),
                ("delay", v),
                ("delay_days", v),
                ("infusion_start", v),
                ("reaction", v),
                ("duplicate_sign", len(_BIOMARKERS) * v),
                ("ae", 9 * n_terms),
                ("ae_for_withdrawal", 1),
            ]
        )
        n_normal = max(s.stop for s in self._normal_slices.values())
        n_uniform = max(s.stop for s in self._uniform_slices.values())
        normals = np.empty((len(participants), n_normal))
        uniforms = np.empty((len(participants), n_uniform))
        for row, (p, arm) in enumerate(zip(participants, arms, strict=True)):
            rng = np.random.default_rng([seed, _COURSE_STREAM, p.index, _ARM_CODE[arm]])
            normals[row] = rng.standard_normal(n_normal)
            uniforms[row] = rng.random(n_uniform)
        self.normals = normals
        self.uniforms = uniforms

    def normal(self, name: str) -> FloatArray:
        return self.normals[:, self._normal_slices[name]]

    def uniform(self, name: str) -> FloatArray:
        return self.uniforms[:, self._uniform_slices[name]]


def _layout(widths: Sequence[tuple[str, int]]) -> dict[str, slice]:
    slices: dict[str, slice] = {}
    start = 0
    for name, width in widths:
        slices[name] = slice(start, start + width)
        start += width
    return slices


@dataclass(frozen=True, slots=True)
class _CoursePlan:
    """Per-participant (rows) by per-visit (columns) arrays of the full, untruncated course."""

    visit_ord: IntArray
    delay_days: IntArray
    missed_reason: list[list[str | None]]
    hamd_items: IntArray  # rows x visits x 17
    cgi: IntArray
    crp: FloatArray
    biomarkers: FloatArray  # rows x visits x biomarker x (value, replicate 1, replicate 2)
    weight: FloatArray
    vitals: FloatArray  # rows x visits x (systolic, diastolic, heart rate, temperature)
    withdraws: BoolArray
    last_visit_index: IntArray
    withdrawal_ord: IntArray
    withdrawal_reason: list[str]


def _plan_courses(
    participants: Sequence[SyntheticParticipant],
    arms: Sequence[Arm],
    draws: _CourseDraws,
    *,
    weeks: tuple[int, ...],
    infusion_weeks: tuple[int, ...],
) -> _CoursePlan:
    n, v = len(participants), len(weeks)
    week = np.asarray(weeks, dtype=np.float64)
    on_infliximab = np.array([arm == "infliximab" for arm in arms])
    log_crp = np.log([p.screening_crp_mg_l for p in participants])
    baseline_hamd = np.array([p.baseline_hamd for p in participants], dtype=np.float64)
    baseline_cgi = np.array([p.baseline_cgi_s for p in participants], dtype=np.int64)
    baseline_ord = np.array([_scheduled_baseline(p).toordinal() for p in participants], dtype=np.int64)

    # Visit dates: the protocol schedule from baseline; a delayed infusion moves its own visit.
    is_infusion = np.isin(weeks, infusion_weeks) & (week > 0)
    delayed = (draws.uniform("delay") < _INFUSION_DELAY_RATE) & is_infusion
    delay_days = np.where(
        delayed,
        _INFUSION_DELAY_DAYS[0]
        + np.floor(draws.uniform("delay_days") * (_INFUSION_DELAY_DAYS[1] - _INFUSION_DELAY_DAYS[0] + 1)),
        0,
    ).astype(np.int64)
    visit_ord = baseline_ord[:, None] + 7 * np.asarray(weeks, dtype=np.int64) + delay_days

    missed_reason = _missed_reasons(draws, weeks, infusion_weeks)

    # HAM-D: baseline plus an arm- and CRP-dependent improvement that builds up over the first
    # weeks, with AR(1)-like residuals (protocol.md, Statistical analysis plan).
    effect_week_12 = -_EFFECT_PER_LOG_CRP * (log_crp - math.log(_CRP_CROSSING_MG_L))
    change_week_12 = (
        _PLACEBO_CHANGE_WEEK_12
        + np.where(on_infliximab, effect_week_12, 0.0)
        + _CHANGE_SD * draws.normal("change")[:, 0]
    )
    time_course = (1 - np.exp(-week / _RESPONSE_TIME_CONSTANT_WEEKS)) / (
        1 - math.exp(-END_OF_TREATMENT_WEEK / _RESPONSE_TIME_CONSTANT_WEEKS)
    )
    residual = _ar1_from_zero(draws.normal("hamd_residual"), week, _HAMD_RESIDUAL_SD, _HAMD_RESIDUAL_WEEKLY_CORRELATION)
    totals = np.clip(
        np.rint(baseline_hamd[:, None] + change_week_12[:, None] * time_course + residual),
        0,
        _HAMD_MAX_TOTAL,
    ).astype(np.int64)
    totals[:, 0] = baseline_hamd.astype(np.int64)
    item3_at_baseline = np.array([p.hamd_item3 for p in participants], dtype=np.int64)
    hamd_items = _hamd_items(
        totals,
        item_profile=draws.normal("item_profile"),
        slot_uniforms=draws.uniform("hamd_slots").reshape(n, v, -1),
        item3_at_baseline=item3_at_baseline,
    )
    cgi = _cgi_from_hamd(totals.astype(np.float64), draws.normal("cgi"))
    cgi[:, 0] = baseline_cgi

    # Infliximab effects take about a week to build after the first infusion.
    drug_on_board = np.where(on_infliximab[:, None], 1 - np.exp(-week / _DRUG_ONSET_WEEKS), 0.0)

    # hs-CRP: flat on average under placebo (the -variance/2 keeps the arithmetic mean flat),
    # lower at every visit after baseline under infliximab (protocol.md, Published results).
    crp_noise = _ar1_from_zero(draws.normal("crp"), week, _CRP_LOG_SD, _CRP_WEEKLY_CORRELATION)
    crp_noise_var = _CRP_LOG_SD**2 * (1 - _CRP_WEEKLY_CORRELATION ** (2 * week))
    crp_baseline_shift = _CRP_BASELINE_LOG_SD * draws.normal("crp_baseline")
    log_crp_course = (
        log_crp[:, None]
        + crp_baseline_shift
        - _CRP_BASELINE_LOG_SD**2 / 2
        + crp_noise
        - crp_noise_var / 2
        - _INFLIXIMAB_CRP_LOG_DROP * drug_on_board
    )
    crp = np.maximum(np.exp(log_crp_course), _CRP_FLOOR_MG_L).round(2)

    biomarkers = _biomarkers(draws, log_crp, drug_on_board, n, v)

    weight_at_screening = np.array([p.weight_kg for p in participants])
    weight = (
        weight_at_screening[:, None]
        + _WEIGHT_DRIFT_SD_KG_PER_WEEK * draws.normal("weight_drift") * week
        + _WEIGHT_VISIT_SD_KG * draws.normal("weight")
    ).round(1)

    bmi = np.array([p.bmi for p in participants])
    vitals = _vitals(draws, bmi, n, v)

    # Dropout (protocol.md, Published results: 1/30 placebo, 5/30 infliximab did not complete):
    # the participant attends up to some visit before week 12, then withdraws before the next.
    withdrawal_u = draws.uniform("withdrawal")
    dropout_rate = np.where(on_infliximab, _DROPOUT_RATE["infliximab"], _DROPOUT_RATE["placebo"])
    withdraws = withdrawal_u[:, 0] < dropout_rate
    last_visit_index = np.minimum(np.floor(withdrawal_u[:, 1] * (v - 1)), v - 2).astype(np.int64)
    if v == 1:
        withdraws[:] = False
        last_visit_index[:] = 0
    rows = np.arange(n)
    last_ord = visit_ord[rows, last_visit_index]
    next_ord = visit_ord[rows, np.minimum(last_visit_index + 1, v - 1)]
    gap = np.maximum(next_ord - last_ord - 1, 0)
    withdrawal_ord = last_ord + 1 + np.floor(withdrawal_u[:, 2] * gap).astype(np.int64)
    withdrawal_reason = [
        _pick(WITHDRAWAL_REASONS, _WITHDRAWAL_REASON_PROBABILITIES[arm], u)
        for arm, u in zip(arms, withdrawal_u[:, 3].tolist(), strict=True)
    ]

    return _CoursePlan(
        visit_ord=visit_ord,
        delay_days=delay_days,
        missed_reason=missed_reason,
        hamd_items=hamd_items,
        cgi=cgi,
        crp=crp,
        biomarkers=biomarkers,
        weight=weight,
        vitals=vitals,
        withdraws=withdraws,
        last_visit_index=last_visit_index,
        withdrawal_ord=withdrawal_ord,
        withdrawal_reason=withdrawal_reason,
    )


def _scheduled_baseline(p: SyntheticParticipant) -> dt.date:
    if p.scheduled_baseline_date is None:  # callers check eligibility first
        raise ValueError(f"{p.screening_number} has no baseline")
    return p.scheduled_baseline_date


def _missed_reasons(
    draws: _CourseDraws, weeks: tuple[int, ...], infusion_weeks: tuple[int, ...]
) -> list[list[str | None]]:
    design_u = draws.uniform("design").tolist()
    sporadic_u = draws.uniform("sporadic").tolist()
    # Baseline, infusion visits and the week-12 end point are always attended.
    can_be_missed = [w != 0 and w not in infusion_weeks and w != weeks[-1] for w in weeks]
    reasons: list[list[str | None]] = []
    for row_design, row_sporadic in zip(design_u, sporadic_u, strict=True):
        row: list[str | None] = []
        for j, w in enumerate(weeks):
            reason: str | None = None
            if w in _DESIGN_PRESENT_SHARE and row_design[j] >= _DESIGN_PRESENT_SHARE[w]:
                reason = _DESIGN_MISSED_REASON[w]
            elif can_be_missed[j] and row_sporadic[j] < _SPORADIC_MISS_RATE:
                reason = _SPORADIC_MISSED_REASON
            row.append(reason)
        reasons.append(row)
    return reasons


def _ar1_from_zero(innovations: FloatArray, week: FloatArray, sd: float, weekly_correlation: float) -> FloatArray:
    """Continuous-time AR(1) residuals at `week`, zero at the first visit (baseline)."""
    out = np.zeros_like(innovations)
    for j in range(1, innovations.shape[1]):
        carry = weekly_correlation ** (week[j] - week[j - 1])
        out[:, j] = carry * out[:, j - 1] + sd * math.sqrt(1 - carry**2) * innovations[:, j]
    return out


# The 52 HAM-D "slots": item k owns HAMD_ITEM_MAX[k] of them; a score is how many are chosen.
_SLOT_ITEM: Final = np.repeat(np.arange(len(HAMD_ITEM_MAX)), HAMD_ITEM_MAX)
_SLOT_RANK: Final = np.concatenate([np.arange(m) for m in HAMD_ITEM_MAX])
_ITEM_FIRST_SLOT: Final = np.concatenate([[0], np.cumsum(HAMD_ITEM_MAX)[:-1]])
_ITEM_LOGIT_FILL: Final = np.log(np.array(_HAMD_ITEM_FILL) / (1 - np.array(_HAMD_ITEM_FILL)))


def _hamd_items(
    totals: IntArray,
    *,
    item_profile: FloatArray,
    slot_uniforms: FloatArray,
    item3_at_baseline: IntArray,
) -> IntArray:
    """Split each total into 17 item scores that respect every item's range.

    Choosing `total` of the 52 slots by weighted sampling without replacement (Gumbel top-k)
    gives item scores within range that sum exactly to the total, vectorised over all visits.
    """
    log_weight = _ITEM_LOGIT_FILL[None, :] + _HAMD_ITEM_PROFILE_SD * item_profile  # n x 17
    u = np.clip(slot_uniforms, 1e-12, 1 - 1e-12)
    keys = log_weight[:, None, _SLOT_ITEM] - np.log(-np.log(u))  # n x v x 52
    suicide_slot = _SLOT_ITEM == _HAMD_SUICIDE_ITEM
    # Baseline item 3 repeats the screening score; afterwards it stays below the exclusion
    # threshold, since active suicidal ideation would end participation.
    forced = suicide_slot[None, :] & (_SLOT_RANK[None, :] < item3_at_baseline[:, None])
    barred = suicide_slot[None, :] & ~forced
    keys[:, 0, :] = np.where(forced, np.inf, np.where(barred, -np.inf, keys[:, 0, :]))
    keys[:, 1:, suicide_slot & (_SLOT_RANK >= _SUICIDAL_IDEATION_SCORE - 1)] = -np.inf
    order = np.argsort(-keys, axis=2, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(keys.shape[2]), order.shape), axis=2)
    chosen = (rank < totals[:, :, None]).astype(np.int64)
    return np.add.reduceat(chosen, _ITEM_FIRST_SLOT, axis=2)


def _biomarkers(draws: _CourseDraws, log_crp: FloatArray, drug_on_board: FloatArray, n: int, v: int) -> FloatArray:
    z_crp = (log_crp - _CRP_LOG_MU) / _CRP_LOG_SIGMA
    level = draws.normal("biomarker_level")
    visit_noise = draws.normal("biomarker").reshape(n, len(_BIOMARKERS), v)
    cv = np.minimum(np.abs(_DUPLICATE_CV_SD * draws.normal("duplicate_cv")), _DUPLICATE_CV_CAP).reshape(
        n, len(_BIOMARKERS), v
    )
    sign = np.where(draws.uniform("duplicate_sign") < 0.5, -1.0, 1.0).reshape(n, len(_BIOMARKERS), v)
    out = np.empty((n, v, len(_BIOMARKERS), 3))
    for k in range(len(_BIOMARKERS)):
        rho = _BIOMARKER_CRP_CORRELATION[k]
        person = _BIOMARKER_LOG_SD[k] * (rho * z_crp + math.sqrt(1 - rho**2) * level[:, k])
        log_value = (
            math.log(_BIOMARKER_MEDIAN[k])
            + person[:, None]
            + _BIOMARKER_VISIT_LOG_SD * visit_noise[:, k, :]
            + _BIOMARKER_INFLIXIMAB_LOG_SHIFT[k] * drug_on_board
        )
        value = np.maximum(np.exp(log_value), _BIOMARKER_FLOOR[k])
        # Two replicates whose CV (SD / mean) is `cv`, so their mean is the value.
        half_spread = sign[:, k, :] * cv[:, k, :] / math.sqrt(2)
        decimals = _BIOMARKER_DECIMALS[k]
        replicate_1 = (value * (1 + half_spread)).round(decimals)
        replicate_2 = (value * (1 - half_spread)).round(decimals)
        out[:, :, k, 0] = ((replicate_1 + replicate_2) / 2).round(decimals + 1)
        out[:, :, k, 1] = replicate_1
        out[:, :, k, 2] = replicate_2
    return out


def _vitals(draws: _CourseDraws, bmi: FloatArray, n: int, v: int) -> FloatArray:
    level = draws.normal("vital_level")
    noise = draws.normal("vital").reshape(n, 4, v)
    systolic = 118 + 0.5 * (bmi - _BMI_MEAN) + 10 * level[:, 0]
    diastolic = 76 + 0.3 * (bmi - _BMI_MEAN) + 7 * level[:, 1]
    heart_rate = 72 + 8 * level[:, 2]
    temperature = 36.7 + 0.15 * level[:, 3]
    out = np.empty((n, v, 4))
    out[:, :, 0] = np.clip(np.rint(systolic[:, None] + 6 * noise[:, 0]), 90, 180)
    # A pulse pressure of at least 20 mmHg keeps extreme draws physiological.
    out[:, :, 1] = np.minimum(np.clip(np.rint(diastolic[:, None] + 4 * noise[:, 1]), 50, 110), out[:, :, 0] - 20)
    out[:, :, 2] = np.clip(np.rint(heart_rate[:, None] + 5 * noise[:, 2]), 45, 120)
    out[:, :, 3] = np.clip(temperature[:, None] + 0.2 * noise[:, 3], 35.8, 37.7).round(1)
    return out


def _pick(options: Sequence[str], probabilities: Sequence[float], u: float) -> str:
    cumulative = 0.0
    for option, probability in zip(options, probabilities, strict=True):
        cumulative += probability
        if u < cumulative:
            return option
    return options[-1]


def _build_course(
    row: int,
    p: SyntheticParticipant,
    arm: Arm,
    plan: _CoursePlan,
    draws: _CourseDraws,
    *,
    today: dt.date,
    weeks: tuple[int, ...],
    infusion_weeks: tuple[int, ...],
) -> SyntheticCourse:
    today_ord = today.toordinal()
    baseline_ord = _scheduled_baseline(p).toordinal()
    withdraws = bool(plan.withdraws[row])
    last_index = int(plan.last_visit_index[row]) if withdraws else len(weeks) - 1
    withdrawal_ord = int(plan.withdrawal_ord[row]) if withdraws else None

    visit_ord = plan.visit_ord[row].tolist()
    delay_days = plan.delay_days[row].tolist()
    items = plan.hamd_items[row].tolist()
    cgi = plan.cgi[row].tolist()
    crp = plan.crp[row].tolist()
    biomarkers = plan.biomarkers[row].tolist()
    weight = plan.weight[row].tolist()
    vitals = plan.vitals[row].tolist()
    start_u = draws.uniform("infusion_start")[row].tolist()
    reaction_u = draws.uniform("reaction")[row].tolist()

    visits: list[SyntheticVisit] = []
    for j, w in enumerate(weeks):
        # After a withdrawal there are no further visits; future visits are not generated.
        if j > last_index or visit_ord[j] > today_ord:
            break
        reason = plan.missed_reason[row][j]
        visit_date = dt.date.fromordinal(visit_ord[j])
        if reason is not None:
            visits.append(_missed_visit(w, visit_date, reason))
            continue
        infusion = None
        if w in infusion_weeks:
            start_minute = _INFUSION_FIRST_START_MINUTE + 5 * math.floor(start_u[j] * _INFUSION_START_SLOTS)
            stop_minute = start_minute + INFUSION_MINUTES
            infusion = SyntheticInfusion(
                delayed_days=delay_days[j],
                delay_reason=_INFUSION_DELAY_REASON if delay_days[j] else None,
                start_time=dt.time(start_minute // 60, start_minute % 60),
                stop_time=dt.time(stop_minute // 60, stop_minute % 60),
                reaction=_INFUSION_REACTION if reaction_u[j] < _INFUSION_REACTION_RATE[arm] else None,
            )
        labs: dict[str, tuple[float, float | None, float | None]] = {"hs_crp": (crp[j], None, None)}
        for k, analyte in enumerate(_BIOMARKERS):
            value, replicate_1, replicate_2 = biomarkers[j][k]
            labs[analyte] = (value, replicate_1, replicate_2)
        systolic, diastolic, heart_rate, temperature = vitals[j]
        visits.append(
            SyntheticVisit(
                week=w,
                date=visit_date,
                status="done",
                missed_reason=None,
                hamd_items=tuple(items[j]),
                cgi_s=cgi[j],
                labs=labs,
                weight_kg=weight[j],
                systolic=int(systolic),
                diastolic=int(diastolic),
                heart_rate=int(heart_rate),
                temperature_c=temperature,
                infusion=infusion,
            )
        )

    withdrawal = None
    if withdrawal_ord is not None and withdrawal_ord <= today_ord:
        withdrawal = SyntheticWithdrawal(
            date=dt.date.fromordinal(withdrawal_ord),
            reason=plan.withdrawal_reason[row],
            last_visit_week=weeks[last_index],
        )
    completed = not withdraws and len(visits) == len(weeks) and visits[-1].status == "done"
    adverse_events = _adverse_events(
        row,
        arm,
        draws,
        baseline_ord=baseline_ord,
        today_ord=today_ord,
        weeks=weeks,
        infusion_weeks=infusion_weeks,
        visit_ord=visit_ord,
        delay_days=delay_days,
        withdrawal_ord=withdrawal_ord,
        withdrawn_for_adverse_event=withdraws and plan.withdrawal_reason[row] == "adverse event",
    )
    return SyntheticCourse(
        participant_index=p.index,
        arm=arm,
        visits=visits,
        adverse_events=adverse_events,
        withdrawal=withdrawal,
        completed=completed,
    )


def _missed_visit(week: int, visit_date: dt.date, reason: str) -> SyntheticVisit:
    return SyntheticVisit(
        week=week,
        date=visit_date,
        status="missed",
        missed_reason=reason,
        hamd_items=None,
        cgi_s=None,
        labs={},
        weight_kg=None,
        systolic=None,
        diastolic=None,
        heart_rate=None,
        temperature_c=None,
        infusion=None,
    )


def _adverse_events(
    row: int,
    arm: Arm,
    draws: _CourseDraws,
    *,
    baseline_ord: int,
    today_ord: int,
    weeks: tuple[int, ...],
    infusion_weeks: tuple[int, ...],
    visit_ord: list[int],
    delay_days: list[int],
    withdrawal_ord: int | None,
    withdrawn_for_adverse_event: bool,
) -> list[SyntheticAE]:
    """Table 2 adverse events, each term at most once per participant."""
    arm_column = _ARM_CODE[arm]
    u = draws.uniform("ae")[row].reshape(len(_AE_TERMS), 9).tolist()
    duration_z = draws.normal("ae_duration")[row].tolist()
    last_day = 7 * weeks[-1]
    end_of_follow_up = baseline_ord + last_day if withdrawal_ord is None else withdrawal_ord

    drafts: list[_AEDraft] = []
    for t, term in enumerate(_AE_TERMS):
        occur, mode, which, jitter, severity, related, action, persist, outcome = u[t]
        if occur >= ADVERSE_EVENT_INCIDENCE[term][arm_column]:
            continue
        if mode < _AE_INFUSION_LINKED_SHARE:
            infusion_week = infusion_weeks[math.floor(which * len(infusion_weeks))]
            onset_day = 7 * infusion_week + math.floor(jitter * 4)
        else:
            onset_day = 1 + math.floor(jitter * last_day)
        duration = round(math.exp(math.log(_AE_MEDIAN_DAYS) + _AE_DURATION_LOG_SD * duration_z[t]))
        drafts.append(
            _AEDraft(
                term=term,
                onset_ord=baseline_ord + onset_day,
                end_ord=None if persist < _AE_PERSISTING_RATE else baseline_ord + onset_day + min(max(duration, 1), 60),
                severity=_pick(AE_SEVERITIES, _AE_SEVERITY_PROBABILITIES, severity),
                related=_pick(AE_RELATEDNESS, _AE_RELATEDNESS_PROBABILITIES[arm], related),
                action="concomitant medication" if action < _AE_CONCOMITANT_MEDICATION_RATE else "none",
                recovering=outcome < _AE_RECOVERING_SHARE,
            )
        )

    # A withdrawal for an adverse event points at the participant's first event, moved to
    # just before the withdrawal if it came later. The rare participant with no event at all
    # gets one, its term drawn in proportion to the arm's Table 2 incidences.
    if withdrawn_for_adverse_event and not drafts and withdrawal_ord is not None:
        incidences = [ADVERSE_EVENT_INCIDENCE[term][arm_column] for term in _AE_TERMS]
        term = _pick(
            _AE_TERMS,
            [incidence / sum(incidences) for incidence in incidences],
            float(draws.uniform("ae_for_withdrawal")[row, 0]),
        )
        drafts.append(
            _AEDraft(
                term=term,
                onset_ord=withdrawal_ord - 1,
                end_ord=None,
                severity="moderate",
                related="possible",
                action="none",
                recovering=True,
            )
        )
    if withdrawn_for_adverse_event and drafts and withdrawal_ord is not None:
        first = min(drafts, key=lambda draft: draft.onset_ord)
        first.onset_ord = max(min(first.onset_ord, withdrawal_ord - 1), baseline_ord)
        first.end_ord = None
        first.action = "study drug withdrawn"
    # An infusion delayed for infection points at an infection that started in the week before.
    for j, w in enumerate(weeks):
        if not delay_days[j]:
            continue
        scheduled_ord = baseline_ord + 7 * w
        for draft in drafts:
            if (
                draft.term in _INFECTION_TERMS
                and draft.action == "none"
                and scheduled_ord - 7 <= draft.onset_ord <= visit_ord[j]
            ):
                draft.action = "dose delayed"
                break

    events: list[SyntheticAE] = []
    for draft in sorted(drafts, key=lambda draft: (draft.onset_ord, draft.term)):
        if draft.onset_ord > today_ord or draft.onset_ord > end_of_follow_up:
            continue
        end_ord = draft.end_ord if draft.end_ord is not None and draft.end_ord <= today_ord else None
        if end_ord is not None:
            outcome_text = "recovered"
        elif draft.recovering:
            outcome_text = "recovering"
        else:
            outcome_text = "not recovered"
        events.append(
            SyntheticAE(
                term=draft.term,
                onset_date=dt.date.fromordinal(draft.onset_ord),
                onset_day=draft.onset_ord - baseline_ord,
                end_date=None if end_ord is None else dt.date.fromordinal(end_ord),
                ongoing=end_ord is None,
                severity=draft.severity,
                related=draft.related,
                action=draft.action,
                outcome=outcome_text,
            )
        )
    return events


@dataclass(slots=True)
class _AEDraft:
    """An adverse event before today's cut-off; mutable so the linking rules can adjust it."""

    term: str
    onset_ord: int
    end_ord: int | None
    severity: str
    related: str
    action: str
    recovering: bool
