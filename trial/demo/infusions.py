"""Infusions: when one is delayed for infection, and what the infusion record says.

The infusion weeks come from the protocol file; the rest is protocol.md, Design (not in the file).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Final

import numpy as np

from trial.demo.draws import BoolArray, FloatArray, IntArray
from trial.demo.records import SyntheticInfusion

# protocol.md, Design: each infusion runs over 120 minutes from a 250 mL saline bag.
INFUSION_MINUTES: Final = 120
INFUSION_BAG_ML: Final = 250

# protocol.md, Design: an infusion is delayed while a participant shows signs of infection.
# The baseline infusion is never delayed here, because baseline itself is only scheduled when
# the participant is well; 7.5% of the later ones gives ~5% of all infusions.
_DELAY_RATE = 0.075
_DELAY_DAYS = (2, 6)  # short enough never to reach the next weekly visit
DELAY_REASON: Final = "signs of infection"

_REACTION_RATE: Final = {False: 0.01, True: 0.03}  # control, active
_REACTION = "mild infusion reaction (flushing)"
# protocol.md, Schedule of assessments: blood between 8 and 10 AM after 30 min rest, so the
# infusion starts after it, between 09:30 and 11:30.
_FIRST_START_MINUTE = 9 * 60 + 30
_START_SLOTS = 25  # 5-minute slots from 09:30 to 11:30


def infusion_delays(*, delay_u: FloatArray, days_u: FloatArray, infusion_after_baseline: BoolArray) -> IntArray:
    """Days each visit's infusion is delayed for infection (0 when not, or when no infusion)."""
    delayed = (delay_u < _DELAY_RATE) & infusion_after_baseline
    span = _DELAY_DAYS[1] - _DELAY_DAYS[0] + 1
    return np.where(delayed, _DELAY_DAYS[0] + np.floor(days_u * span), 0).astype(np.int64)


def infusion_given(*, delayed_days: int, start_u: float, reaction_u: float, active: bool) -> SyntheticInfusion:
    start_minute = _FIRST_START_MINUTE + 5 * math.floor(start_u * _START_SLOTS)
    stop_minute = start_minute + INFUSION_MINUTES
    return SyntheticInfusion(
        delayed_days=delayed_days,
        delay_reason=DELAY_REASON if delayed_days else None,
        start_time=dt.time(start_minute // 60, start_minute % 60),
        stop_time=dt.time(stop_minute // 60, stop_minute % 60),
        reaction=_REACTION if reaction_u < _REACTION_RATE[active] else None,
        volume_ml=INFUSION_BAG_ML,
    )
