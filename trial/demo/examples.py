"""One eligible screening, as data: shared by the test fixtures and the benchmarks."""

from typing import Any

# Passes every criterion of the protocol's Eligibility section; callers add the screening date
# and the screening hs-CRP (which decides the stratum).
ELIGIBLE_SCREENING: dict[str, Any] = {
    "qids_sr": 17,
    "mmse": 29,
    "mgh_s": 3.0,
    "hamd_item3": 1,
    "bipolar": False,
    "on_antidepressant": True,
    "episode_duration_months": 120,
    "height_cm": 168,
    "weight_kg": 82,
    "major_depression_scid": True,
    "stable_antidepressant_4wk": True,
    "informed_consent": True,
    "autoimmune_disorder": False,
    "tuberculosis_risk": False,
    "hepatitis_or_hiv": False,
    "active_fungal_or_recurrent_infection": False,
    "cancer_history": False,
    "unstable_medical_illness": False,
    "schizophrenia_or_psychosis": False,
    "substance_abuse_6mo": False,
}
