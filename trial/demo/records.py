"""What the demo generator produces: plain frozen records, one per screened person, visit and event."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

Stage = Literal["screening", "screen_failed", "enrolled"]
Sex = Literal["F", "M"]
VisitStatus = Literal["done", "missed"]

# Instruments: HAM-D-17 has 17 items; the protocol file gives each one's range.
HAMD_ITEMS: Final = 17


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
    volume_ml: int


@dataclass(frozen=True, slots=True)
class SyntheticVisit:
    week: int
    date: dt.date
    status: VisitStatus
    missed_reason: str | None
    hamd_items: tuple[int, ...] | None
    cgi_s: int | None
    # analyte -> (value, replicate 1, replicate 2); analytes run once have no replicates.
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
    arm: str  # the protocol's arm code
    visits: list[SyntheticVisit]
    adverse_events: list[SyntheticAE]
    withdrawal: SyntheticWithdrawal | None
    completed: bool


def hamd_total(items: Sequence[int]) -> int:
    """HAM-D-17 total (protocol.md, Instruments: the sum of the 17 item scores)."""
    if len(items) != HAMD_ITEMS:
        raise ValueError(f"HAM-D-17 has {HAMD_ITEMS} items, got {len(items)}")
    return int(sum(items))


def missed_visit(week: int, visit_date: dt.date, reason: str) -> SyntheticVisit:
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
