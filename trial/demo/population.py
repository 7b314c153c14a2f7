"""Screening: a population of screened people, their measures, eligibility and enrolment dates.

Distributions follow Table 1 of the report (protocol.md, Published results); the criteria, their
limits and the score ranges come from the protocol file, and eligibility is decided by the same
rules the screening form applies (`trial.participants.eligibility`).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Final

import numpy as np

from analysis.stats.trial_shape import REFERENCE_SHAPE, TrialShape
from trial.demo.draws import IntArray, lognormal_parameters, population_rng, redraw_above
from trial.demo.facts import ProtocolFacts
from trial.demo.outcomes import cgi_from_hamd
from trial.demo.records import Stage, SyntheticParticipant
from trial.participants.eligibility import computed_criteria
from trial.protocol.config import ProtocolConfig

# Attested criteria (no measured field here) fail by a flat chance per screened person. With the
# measured ones (age, MGH-S, QIDS-SR, HAM-D item 3, MMSE) about 17% of screened people fail.
_ATTESTED_FAILURE_RATE: Final[dict[str, float]] = {
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
_OTHER_ATTESTED_FAILURE_RATE: Final = 0.008  # a criterion another protocol file adds
_AGE_OUT_OF_RANGE_RATE: Final = 0.015  # a few people outside the age range come and fail
_AGE_YOUNGEST, _AGE_OLDEST = 18, 70  # ... adults, but not much older than the range

# Table 1: 67% female.
_FEMALE_SHARE: Final = 0.67
# Table 1: age 42.5 (8.2) vs 44.3 (9.4). A normal(43.8, 13) truncated to the age range and
# floored gives mean ~43 and SD ~9 within 25-60.
_AGE_LOC, _AGE_SCALE = 43.8, 13.0
# Table 1: BMI 31.2 (6.9) vs 32.7 (8.0); log-normal with mean 32 and SD 7.5.
BMI_MEAN, _BMI_SD = 32.0, 7.5
# Adiposity raises CRP; a modest correlation keeps both marginals intact.
_CRP_BMI_CORRELATION = 0.3
_QIDS_LOC, _QIDS_SCALE, _QIDS_HAMD_CORRELATION = 18.0, 2.3, 0.4
# Table 1: bipolar 9 of 60; 37 of 60 on antidepressants.
_BIPOLAR_SHARE, _ANTIDEPRESSANT_SHARE = 0.15, 0.62
# Table 1: episode duration 184 (149) vs 239 (165) months. The episode cannot predate age 8,
# and that cap trims the log-normal to a mean of ~210 but an SD of only ~125: an SD of 155
# is out of reach for people aged 25-60 (even a uniform spread over their lives gives ~130).
_EPISODE_MEAN, _EPISODE_SD = 260.0, 240.0
_EPISODE_EARLIEST_ONSET_AGE = 8
# Screening HAM-D item 3 (suicide): P(score = 0, 1, 2, ...); 3% score 3 or more.
_ITEM3_PROBABILITIES: Final = (0.60, 0.25, 0.12, 0.025, 0.005)
_MMSE_DEFICIT_MEAN = 0.5  # Poisson deficit below the maximum: ~1.4% score under 28
_MGH_S_MEDIAN, _MGH_S_LOG_SD = 3.5, 0.35  # ~2.4% stage under 2

# Time from screening to the eligibility decision (labs, TB test, chest X-ray); people whose
# decision is still due on `today` are in stage "screening".
_DECISION_LAG_DAYS = (7, 21)


def generate_population(
    *,
    n: int,
    seed: int,
    today: dt.date,
    protocol: ProtocolConfig,
    shape: TrialShape = REFERENCE_SHAPE,
    recruitment_days: int = 420,
) -> list[SyntheticParticipant]:
    """Screen `n` people over the `recruitment_days` before `today`, in screening order."""
    if n < 0:
        raise ValueError("n must be >= 0")
    if recruitment_days < 1:
        raise ValueError("recruitment_days must be >= 1")
    facts = ProtocolFacts.from_config(protocol)
    if n == 0:
        return []
    rng = population_rng(seed)

    # Stratified jitter spreads screening evenly up to just before `today`, so every run
    # leaves the trial mid-way: most finished, some in follow-up, a few still screening.
    day_offsets = np.floor((np.arange(n) + rng.random(n)) * (recruitment_days / n))
    screening_ord = today.toordinal() - recruitment_days + day_offsets.astype(np.int64)

    female = rng.random(n) < _FEMALE_SHARE
    age = _ages(rng, n, facts.age_range)
    height_cm = np.where(female, rng.normal(163.0, 6.5, n), rng.normal(177.0, 7.0, n)).round(1)

    z_bmi = rng.standard_normal(n)
    z_crp = _CRP_BMI_CORRELATION * z_bmi + math.sqrt(1 - _CRP_BMI_CORRELATION**2) * rng.standard_normal(n)
    bmi_mu, bmi_sigma = lognormal_parameters(BMI_MEAN, _BMI_SD)
    bmi_raw = np.clip(np.exp(bmi_mu + bmi_sigma * z_bmi), 17.0, 65.0)
    weight_kg = (bmi_raw * (height_cm / 100) ** 2).round(1)
    bmi = (weight_kg / (height_cm / 100) ** 2).round(1)
    crp_z_cap = (math.log(shape.crp_cap_mg_l) - shape.crp_log_mu) / shape.crp_log_sigma
    crp = np.maximum(
        np.exp(shape.crp_log_mu + shape.crp_log_sigma * redraw_above(rng, z_crp, crp_z_cap)), shape.crp_floor_mg_l
    ).round(2)

    # The mean sits slightly below Table 1's because the QIDS-SR cut, which correlates with
    # HAM-D, removes a few of the mildest.
    z_hamd = rng.standard_normal(n)
    baseline_hamd = np.clip(
        np.rint(shape.baseline_hamd_mean + shape.baseline_hamd_sd * z_hamd),
        shape.baseline_hamd_min,
        shape.baseline_hamd_max,
    )
    baseline_cgi = cgi_from_hamd(baseline_hamd, rng.standard_normal(n), facts.cgi_s_range)
    z_qids = _QIDS_HAMD_CORRELATION * z_hamd + math.sqrt(1 - _QIDS_HAMD_CORRELATION**2) * rng.standard_normal(n)
    qids = np.clip(np.rint(_QIDS_LOC + _QIDS_SCALE * z_qids), *facts.qids_sr_range).astype(np.int64)
    mmse_min, mmse_max = facts.mmse_range
    mmse = mmse_max - np.minimum(rng.poisson(_MMSE_DEFICIT_MEAN, n), min(10, mmse_max - mmse_min))
    mgh_s = np.rint(2 * _MGH_S_MEDIAN * np.exp(_MGH_S_LOG_SD * rng.standard_normal(n))) / 2
    item3_probabilities = _item3_probabilities(facts.hamd_item_max[facts.suicide_item_index])
    item3 = rng.choice(len(item3_probabilities), size=n, p=item3_probabilities)
    bipolar = rng.random(n) < _BIPOLAR_SHARE
    on_antidepressant = rng.random(n) < _ANTIDEPRESSANT_SHARE
    episode_mu, episode_sigma = lognormal_parameters(_EPISODE_MEAN, _EPISODE_SD)
    episode_months = np.clip(
        np.rint(np.exp(episode_mu + episode_sigma * rng.standard_normal(n))),
        2,
        np.maximum((age - _EPISODE_EARLIEST_ONSET_AGE) * 12, 2),
    )
    # ... and within the protocol file's plausible range, which an older age range could pass.
    episode_months = np.minimum(episode_months, int(protocol.measure("episode_duration_months").max)).astype(np.int64)
    attested_failed = {
        code: rng.random(n) < _ATTESTED_FAILURE_RATE.get(code, _OTHER_ATTESTED_FAILURE_RATE)
        for code in facts.criteria
        if code not in facts.computed
    }

    # Design: the baseline visit is no later than the protocol's limit after screening, so the
    # decision comes at least a day before it.
    max_days = facts.baseline_max_days_after_screening
    if max_days < 2:
        raise ValueError("the protocol leaves no time between screening and baseline for the eligibility decision")
    decision_lag = rng.integers(
        min(_DECISION_LAG_DAYS[0], max_days - 1), min(_DECISION_LAG_DAYS[1], max_days - 1) + 1, n
    )
    baseline_lag = rng.integers(decision_lag + 1, max_days + 1)
    birthday_back_days = rng.integers(0, 365, n)

    today_ord = today.toordinal()
    columns: dict[str, list[Any]] = {
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
        "decision": (screening_ord + decision_lag).tolist(),
        "baseline": (screening_ord + baseline_lag).tolist(),
        "hamd": baseline_hamd.astype(np.int64).tolist(),
        "cgi": baseline_cgi.tolist(),
        "birthday_back": birthday_back_days.tolist(),
    }
    attested_columns = {code: failed.tolist() for code, failed in attested_failed.items()}

    population: list[SyntheticParticipant] = []
    for i in range(n):
        screening_date = dt.date.fromordinal(columns["screening"][i])
        date_of_birth = _date_of_birth(screening_date, columns["age"][i], columns["birthday_back"][i])
        criteria = _criteria(
            facts,
            protocol,
            measures={
                "date_of_birth": date_of_birth,
                "screening_date": screening_date,
                "mgh_s": columns["mgh_s"][i],
                "qids_sr": columns["qids"][i],
                "hamd_item3": columns["item3"][i],
                "mmse": columns["mmse"][i],
                "screening_crp_mg_l": columns["crp"][i],
            },
            attested_failed={code: failed[i] for code, failed in attested_columns.items()},
        )
        failed_criteria = tuple(
            [code for code in facts.inclusion if not criteria[code]]
            + [code for code in facts.exclusion if criteria[code]]
        )
        is_eligible = not failed_criteria
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
                date_of_birth=date_of_birth,
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


def _criteria(
    facts: ProtocolFacts,
    protocol: ProtocolConfig,
    *,
    measures: dict[str, Any],
    attested_failed: dict[str, bool],
) -> dict[str, bool]:
    """Each criterion's value in protocol order: True when an inclusion criterion is met or an
    exclusion criterion applies, as on the screening form."""
    computed = computed_criteria(measures, protocol)
    criteria: dict[str, bool] = {}
    for code in facts.criteria:
        if code in facts.computed:
            value = computed.get(code)
            if value is None:
                raise ValueError(f"criterion {code!r} is marked computed, but no screening rule computes it")
            criteria[code] = value
        else:
            criteria[code] = not attested_failed[code] if code in facts.inclusion else attested_failed[code]
    return criteria


def _ages(rng: np.random.Generator, n: int, age_range: tuple[int, int]) -> IntArray:
    age_min, age_max = age_range
    continuous = rng.normal(_AGE_LOC, _AGE_SCALE, n)
    outside = (continuous < age_min) | (continuous >= age_max + 1)
    while outside.any():
        continuous[outside] = rng.normal(_AGE_LOC, _AGE_SCALE, int(outside.sum()))
        outside = (continuous < age_min) | (continuous >= age_max + 1)
    age = np.floor(continuous).astype(np.int64)
    out_of_range = rng.random(n) < _AGE_OUT_OF_RANGE_RATE
    too_young = rng.random(n) < 0.5
    wrong_age = np.where(
        too_young,
        rng.integers(min(_AGE_YOUNGEST, age_min - 1), age_min, n),
        rng.integers(age_max + 1, max(_AGE_OLDEST, age_max + 1) + 1, n),
    )
    return np.where(out_of_range, wrong_age, age)


def _item3_probabilities(item3_max: int) -> tuple[float, ...]:
    """The screening item-3 distribution cut to the item's range (Instruments)."""
    kept = _ITEM3_PROBABILITIES[: item3_max + 1]
    if len(kept) == len(_ITEM3_PROBABILITIES):
        return kept
    return tuple(p / sum(kept) for p in kept)


def _date_of_birth(screening_date: dt.date, age: int, days_since_birthday: int) -> dt.date:
    last_birthday = screening_date - dt.timedelta(days=days_since_birthday)
    try:
        return last_birthday.replace(year=last_birthday.year - age)
    except ValueError:  # 29 February in a year that has none
        return last_birthday.replace(year=last_birthday.year - age, day=28)


def stratum(p: SyntheticParticipant, protocol: ProtocolConfig, *, site_code: str) -> str:
    """The randomization stratum (Design: stratified by the protocol file's factors), read from the
    generated screening values the way the randomization service reads them from the database."""
    parts = [site_code] if protocol.stratify_by_site else []
    for factor in protocol.stratification:
        value = site_code if factor.source == "site" else getattr(p, factor.source)
        parts.append(factor.level_for(value))
    return "|".join(parts)
