"""Weight and vital signs at each visit: stable per person, with small visit-to-visit noise."""

from __future__ import annotations

import numpy as np

from trial.demo.draws import FloatArray
from trial.demo.population import BMI_MEAN

# Weight: small drift around the screening weight.
_WEIGHT_DRIFT_SD_KG_PER_WEEK = 0.08
_WEIGHT_VISIT_SD_KG = 0.4


def weights(*, screening_kg: FloatArray, week: FloatArray, drift_z: FloatArray, visit_z: FloatArray) -> FloatArray:
    """Weight (kg), participants x visits."""
    return (
        screening_kg[:, None] + _WEIGHT_DRIFT_SD_KG_PER_WEEK * drift_z * week + _WEIGHT_VISIT_SD_KG * visit_z
    ).round(1)


def vital_signs(*, bmi: FloatArray, level_z: FloatArray, visit_z: FloatArray) -> FloatArray:
    """participants x visits x (systolic, diastolic, heart rate, temperature)."""
    n, v = len(bmi), visit_z.shape[1] // 4
    noise = visit_z.reshape(n, 4, v)
    systolic = 118 + 0.5 * (bmi - BMI_MEAN) + 10 * level_z[:, 0]
    diastolic = 76 + 0.3 * (bmi - BMI_MEAN) + 7 * level_z[:, 1]
    heart_rate = 72 + 8 * level_z[:, 2]
    temperature = 36.7 + 0.15 * level_z[:, 3]
    out = np.empty((n, v, 4))
    out[:, :, 0] = np.clip(np.rint(systolic[:, None] + 6 * noise[:, 0]), 90, 180)
    # A pulse pressure of at least 20 mmHg keeps extreme draws physiological.
    out[:, :, 1] = np.minimum(np.clip(np.rint(diastolic[:, None] + 4 * noise[:, 1]), 50, 110), out[:, :, 0] - 20)
    out[:, :, 2] = np.clip(np.rint(heart_rate[:, None] + 5 * noise[:, 2]), 45, 120)
    out[:, :, 3] = np.clip(temperature[:, None] + 0.2 * noise[:, 3], 35.8, 37.7).round(1)
    return out
