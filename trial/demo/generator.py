"""Seeded, Django-free generator of synthetic data shaped like the reference trial.

The demo seeding command and the scale tests need data that looks like Raison et al. 2013
(protocol.md): the same baseline distributions, the published hs-CRP moderation of the
infliximab effect, missing-by-design visits, dropout, adverse events and a trial caught
mid-way through recruitment. Nothing here touches the database, so the generator stays fast
(vectorised with numpy) and testable without Django.

Two inputs decide the data: the protocol file (`ProtocolConfig`: weeks, windows, infusions,
instruments, criteria, arms) and the trial's shape (`analysis.stats.trial_shape.TrialShape`:
the simulation's assumptions, shared with `analysis.stats.simulate`). The work is split by
concern:

- `facts`: what the generator reads from the protocol file
- `population`: screening, eligibility and enrolment dates
- `timeline`: visit dates, missed visits and dropout
- `outcomes`: HAM-D-17 and CGI-S; `labs`: hs-CRP and the ELISA analytes; `vitals`
- `infusions`: delays for infection and the infusion record; `adverse_events`: Table 2
- `courses`: the orchestration of one participant's course after baseline
- `draws`: the seeded random streams; `records`: the output records
"""

from __future__ import annotations

from trial.demo.adverse_events import ADVERSE_EVENT_INCIDENCE, AE_ACTIONS, AE_OUTCOMES, AE_RELATEDNESS, AE_SEVERITIES
from trial.demo.courses import generate_course, generate_courses
from trial.demo.population import generate_population
from trial.demo.records import (
    SyntheticAE,
    SyntheticCourse,
    SyntheticInfusion,
    SyntheticParticipant,
    SyntheticVisit,
    SyntheticWithdrawal,
    hamd_total,
)
from trial.demo.timeline import withdrawal_reasons

__all__ = [
    "ADVERSE_EVENT_INCIDENCE",
    "AE_ACTIONS",
    "AE_OUTCOMES",
    "AE_RELATEDNESS",
    "AE_SEVERITIES",
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
    "withdrawal_reasons",
]
