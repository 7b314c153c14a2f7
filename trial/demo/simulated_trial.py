"""A whole finished trial from the generator, without the database: who is entered, their arms, the SAP frame.

The demo seeding (`trial.demo.seeding`) writes the generator's people through the services; this
module makes the same trial in memory so its statistical shape can be measured over many seeds
cheaply (`trial.demo.calibration`). Both take the population the same way
(`population_with_enrolled`, `finished_population`), and the courses come from the same
`generate_courses`, so what is measured here is what the demo database holds.

One thing differs on purpose: the demo's randomization list is drawn from the operating system's
randomness (ICH E9 2.3.3: the allocation must not be replayable from the demo's public seed), so the
demo's arms cannot be reproduced. Here the list is made by the same stratified permuted-block
generator (`trial.randomization.generation.generate_list`) from a random stream derived from the
seed, which a simulation needs in order to be repeatable. Nothing here touches the app's lists.

Django-free: importable and runnable without settings, like the generator.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass

import pandas as pd

from analysis.stats.trial_shape import REFERENCE_SHAPE, TrialShape
from trial.demo.generator import (
    SyntheticCourse,
    SyntheticParticipant,
    generate_courses,
    generate_population,
    hamd_total,
)
from trial.demo.labs import CRP
from trial.demo.population import stratum
from trial.protocol.config import ProtocolConfig
from trial.randomization.generation import generate_list

# A fixed calendar for simulated trials: dates do not change any rating, and a fixed one keeps a
# seed's trial identical whenever it is made.
SIMULATION_TODAY = dt.date(2026, 1, 1)
# The simulated allocation's own stream, apart from the generator's population (1) and courses (2).
_ALLOCATION_STREAM = 3


def population_with_enrolled(
    participants: int, *, seed: int, today: dt.date, config: ProtocolConfig, shape: TrialShape = REFERENCE_SHAPE
) -> list[SyntheticParticipant]:
    """Screen as many people as it takes for `participants` to pass screening (the trial's N counts
    participants, not screened people); screen failures come on top, as in a CONSORT flow."""
    screened = participants
    while True:
        population = generate_population(n=screened, seed=seed, today=today, protocol=config, shape=shape)
        eligible = sum(1 for p in population if p.eligible)
        if eligible >= participants:
            return population
        screened += max(1, math.ceil((participants - eligible) * 1.1))


def recruitment_end(today: dt.date, config: ProtocolConfig) -> dt.date:
    """When recruitment of a finished trial closed: long enough before `today` for every randomized
    participant's treatment period to be over (Schedule of assessments), with a margin for windows."""
    return today - dt.timedelta(weeks=config.weeks + 6)


def finished_population(population: list[SyntheticParticipant]) -> list[SyntheticParticipant]:
    """A closed trial keeps its screen failures and those who reached baseline; people whose screening
    or baseline would fall after recruitment closed are never entered."""
    return [p for p in population if p.stage == "screen_failed" or (p.stage == "enrolled" and p.baseline_date)]


def site_code(p: SyntheticParticipant, site_codes: list[str]) -> str:
    """Participants are spread over the protocol's sites in screening order (a multi-site trial recruits
    at every site at once)."""
    return site_codes[p.index % len(site_codes)]


@dataclass(frozen=True)
class SimulatedTrial:
    seed: int
    protocol: ProtocolConfig
    randomized: list[SyntheticParticipant]
    courses: list[SyntheticCourse]
    arms: list[str]


def seeded_allocation(randomized: list[SyntheticParticipant], *, seed: int, config: ProtocolConfig) -> list[str]:
    """Arms in entry order from a stratified permuted-block list (Design: Randomization), each
    participant taking the next entry of their stratum, as the randomization service does."""
    site_codes = sorted(s.code for s in config.sites)
    strata_of = [stratum(p, config, site_code=site_code(p, site_codes)) for p in randomized]
    block = math.lcm(*config.block_sizes)
    largest = max(Counter(strata_of).values(), default=0)
    planned = generate_list(
        strata=config.strata(),
        arms=[a.code for a in config.arms],
        ratio=config.allocation_ratio,
        block_sizes=config.block_sizes,
        per_stratum=(math.ceil(largest / block) + 1) * block,
        rng=random.Random(f"{seed}/{_ALLOCATION_STREAM}"),
    )
    queue: dict[str, list[str]] = defaultdict(list)
    for entry in planned:
        queue[entry.stratum].append(entry.arm)
    taken: Counter[str] = Counter()
    arms = []
    for s in strata_of:
        arms.append(queue[s][taken[s]])
        taken[s] += 1
    return arms


def simulate_finished_trial(
    *,
    participants: int,
    seed: int,
    protocol: ProtocolConfig,
    today: dt.date = SIMULATION_TODAY,
    shape: TrialShape = REFERENCE_SHAPE,
) -> SimulatedTrial:
    """The trial `seed_demo --closed` would seed for `participants` and `seed`, with a seeded allocation."""
    population = finished_population(
        population_with_enrolled(
            participants, seed=seed, today=recruitment_end(today, protocol), config=protocol, shape=shape
        )
    )
    randomized = [p for p in population if p.stage == "enrolled" and p.baseline_date is not None]
    arms = seeded_allocation(randomized, seed=seed, config=protocol)
    courses = generate_courses(randomized, arms, seed=seed, today=today, protocol=protocol, shape=shape)
    return SimulatedTrial(seed=seed, protocol=protocol, randomized=randomized, courses=courses, arms=arms)


def sap_frame(trial: SimulatedTrial) -> pd.DataFrame:
    """The SAP's long frame as the final analysis builds it from the database
    (`analysis.services.sap_by_arm_frame`): one row per participant x week with a HAM-D total,
    change from baseline, the arm, and baseline hs-CRP from the week-0 laboratory result (the
    screening value when week 0 has none)."""
    rows = []
    for p, course in zip(trial.randomized, trial.courses, strict=True):
        participant_id = f"P{p.index + 1:04d}"
        done = [v for v in course.visits if v.status == "done"]
        week0 = next((v for v in done if v.week == 0), None)
        crp = week0.labs[CRP][0] if week0 is not None and CRP in week0.labs else p.screening_crp_mg_l
        scored = [(v.week, hamd_total(v.hamd_items)) for v in done if v.hamd_items is not None]
        baseline = next((total for week, total in scored if week == 0), None)
        for week, total in scored:
            rows.append(
                {
                    "participant_id": participant_id,
                    "arm": course.arm,
                    "week": week,
                    "hamd_total": total,
                    "baseline": baseline,
                    "chg": None if baseline is None else total - baseline,
                    "baseline_crp_mg_l": crp,
                }
            )
    frame = pd.DataFrame(rows)
    frame["baseline"] = frame["baseline"].astype(float)
    frame["chg"] = frame["chg"].astype(float)
    return frame
