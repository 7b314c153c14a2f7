"""The demo generator follows the protocol file: another file, other data.

A second protocol, different from the reference one in every fact the generator reads (visit weeks,
windows, forms, infusion weeks, HAM-D item ranges, criteria and their limits, arm codes, analytes,
end-of-study reasons), must come out in the generated data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
from pathlib import Path

import pytest

from analysis.stats.simulate import simulate_crp_trial
from analysis.stats.trial_shape import REFERENCE_SHAPE, TrialShape
from trial.demo.examples import eligible_screening
from trial.demo.generator import (
    SyntheticCourse,
    SyntheticParticipant,
    generate_course,
    generate_courses,
    generate_population,
)
from trial.demo.population import stratum
from trial.participants.eligibility import evaluate
from trial.protocol.config import Arm, Criterion, Level, ProtocolConfig, VisitDef, load_protocol_file

REFERENCE = load_protocol_file(Path(__file__).resolve().parents[3] / "protocols" / "infliximab_trd.toml")
TODAY = dt.date(2026, 11, 27)
LATER = TODAY + dt.timedelta(days=400)
SEED = 7


def _visit(code: str, week: int, window: int, forms: tuple[str, ...], infusion: bool = False) -> VisitDef:
    return VisitDef(code, code, week, window, window, forms, infusion)


ALL_FORMS = ("hamd17", "cgis", "labs", "vitals")
# Infusions at weeks 0 and 3 only; week 5 has no HAM-D; wide windows at weeks 5 and 9.
OTHER_VISITS = (
    _visit("SCR", -1, 0, ("screening", "consent", "vitals")),
    _visit("B", 0, 0, (*ALL_FORMS, "infusion"), infusion=True),
    _visit("V3", 3, 1, (*ALL_FORMS, "infusion"), infusion=True),
    _visit("V5", 5, 6, ("cgis", "labs", "vitals")),
    _visit("V9", 9, 6, (*ALL_FORMS, "end_of_study")),
)
# Items 4-6 (insomnia) scored 0-4 here instead of 0-2; item 3 (suicide) 0-3.
OTHER_ITEMS = tuple(
    dataclasses.replace(item, max=4 if item.number in (4, 5, 6) else 3 if item.number == 3 else item.max)
    for item in REFERENCE.hamd_items
)
OTHER = dataclasses.replace(
    REFERENCE,
    weeks=9,
    baseline_max_days_after_screening=21,
    visits=OTHER_VISITS,
    hamd_items=OTHER_ITEMS,
    arms=(
        Arm("CTL", "Control", False, 0.0, 100, 10, ""),
        Arm("ACT", "Active", True, 5.0, 100, 10, ""),
    ),
    # One attested inclusion criterion added, one exclusion criterion dropped.
    inclusion=(*REFERENCE.inclusion, Criterion("no_pregnancy", "Not pregnant", computed=False)),
    exclusion=tuple(c for c in REFERENCE.exclusion if c.code != "substance_abuse_6mo"),
    eligibility_limits=REFERENCE.eligibility_limits | {"age_min": 30.0, "age_max": 50.0, "hamd_item3_max": 1.0},
    labs=tuple(
        dataclasses.replace(lab, duplicates=False) if lab.code == "tnf" else lab
        for lab in REFERENCE.labs
        if lab.code != "stnfr2"
    ),
    end_of_study_reasons=("completed", "adverse event", "withdrew consent"),
    stratification=(
        dataclasses.replace(REFERENCE.stratification[0], cut=5.0, levels=(Level("LOW", "< 5"), Level("HIGH", ">= 5"))),
    ),
)


@pytest.fixture(scope="module")
def population() -> list[SyntheticParticipant]:
    return generate_population(n=3000, seed=SEED, today=TODAY, protocol=OTHER)


@pytest.fixture(scope="module")
def courses(population: list[SyntheticParticipant]) -> list[SyntheticCourse]:
    eligible = [p for p in population if p.eligible]
    arms = ["ACT" if p.index % 2 else "CTL" for p in eligible]
    return generate_courses(eligible, arms, seed=SEED, today=LATER, protocol=OTHER)


def test_it_screens_against_the_protocols_criteria_and_limits(population: list[SyntheticParticipant]) -> None:
    codes = [c.code for c in OTHER.inclusion + OTHER.exclusion]
    for p in population:
        assert list(p.criteria) == codes
        assert p.criteria["age_25_60"] is (30 <= p.age <= 50)  # the code stays; the limits are the file's
        assert p.criteria["active_suicidal_ideation"] is (p.hamd_item3 >= 2)
        assert 0 <= p.hamd_item3 <= 3
        if p.eligible:
            assert p.scheduled_baseline_date is not None
            assert 0 < (p.scheduled_baseline_date - p.screening_date).days <= 21
    assert any("no_pregnancy" in p.failed_criteria for p in population)
    assert all(30 <= p.age <= 50 for p in population if p.eligible)


def test_it_follows_the_protocols_schedule_windows_and_forms(courses: list[SyntheticCourse]) -> None:
    windows = {v.week: v.window_before_days for v in OTHER_VISITS}
    week_5_offsets = set()
    for course in courses:
        weeks = [v.week for v in course.visits]
        assert weeks == [0, 3, 5, 9][: len(weeks)]
        baseline = course.visits[0].date
        shift = 0
        for visit in course.visits:
            assert (visit.infusion is not None) is (visit.week in (0, 3) and visit.status == "done")
            due = baseline + dt.timedelta(weeks=visit.week, days=shift)
            if visit.infusion is not None:
                assert visit.date == due + dt.timedelta(days=visit.infusion.delayed_days)
                shift += visit.infusion.delayed_days
                continue
            assert abs((visit.date - due).days) <= windows[visit.week]
            if visit.week == 5:
                week_5_offsets.add((visit.date - due).days)
                assert visit.hamd_items is None  # no HAM-D form at this visit
                assert visit.status == "missed" or visit.cgi_s is not None
    # The wide window is used: visits fall well away from the due day.
    assert max(week_5_offsets) > 3
    assert min(week_5_offsets) < -3


def test_it_scores_each_hamd_item_within_the_protocols_range(courses: list[SyntheticCourse]) -> None:
    top = [item.max for item in OTHER_ITEMS]
    scored = [v.hamd_items for c in courses for v in c.visits if v.hamd_items is not None]
    assert all(len(items) == 17 and all(0 <= s <= m for s, m in zip(items, top, strict=True)) for items in scored)
    # Insomnia items reach the wider range this protocol gives them.
    assert any(items[3] > 2 for items in scored)
    # After baseline, item 3 stays below this protocol's suicidal-ideation score (2).
    assert all(v.hamd_items[2] < 2 for c in courses for v in c.visits[1:] if v.hamd_items is not None)


def test_it_gives_the_protocols_arms_analytes_and_end_of_study_reasons(courses: list[SyntheticCourse]) -> None:
    assert {c.arm for c in courses} == {"ACT", "CTL"}
    done = [(c, v) for c in courses for v in c.visits if v.status == "done"]
    for _, visit in done:
        assert list(visit.labs) == ["hs_crp", "tnf", "stnfr1"]
        assert visit.labs["tnf"][1:] == (None, None)  # not run in duplicate in this protocol
        assert None not in visit.labs["stnfr1"]
    reasons = {c.withdrawal.reason for c in courses if c.withdrawal is not None}
    assert reasons <= {"adverse event", "withdrew consent"}
    assert reasons

    # The arm the file marks active lowers hs-CRP; the control arm does not.
    def mean_crp_at_end(arm: str) -> float:
        ratios = [
            c.visits[-1].labs["hs_crp"][0] / c.visits[0].labs["hs_crp"][0]
            for c in courses
            if c.arm == arm and c.completed
        ]
        return sum(ratios) / len(ratios)

    assert mean_crp_at_end("ACT") < 0.8 < mean_crp_at_end("CTL")


def test_it_refuses_an_arm_the_protocol_does_not_have(population: list[SyntheticParticipant]) -> None:
    p = next(p for p in population if p.eligible)
    with pytest.raises(ValueError, match="unknown arm 'IFX'"):
        generate_course(p, arm="IFX", seed=SEED, today=TODAY, protocol=OTHER)


def test_it_gives_each_person_the_protocols_stratum(population: list[SyntheticParticipant]) -> None:
    reference = generate_population(n=200, seed=SEED, today=TODAY, protocol=REFERENCE)
    assert {stratum(p, REFERENCE, site_code="01") for p in reference} == set(REFERENCE.strata())
    for p in population:
        assert stratum(p, OTHER, site_code="01") == ("HIGH" if p.screening_crp_mg_l >= 5 else "LOW")
    by_site = dataclasses.replace(REFERENCE, stratify_by_site=True)
    assert stratum(reference[0], by_site, site_code="02").startswith("02|")


def test_the_generator_and_the_simulation_read_one_trial_shape() -> None:
    # The shared trial shape decides which weeks were dropped by design, for the demo generator
    # as for analysis.stats.simulate: with no such weeks, week 3 is assessed like any other.
    people = generate_population(n=400, seed=SEED, today=TODAY, protocol=REFERENCE)
    eligible = [p for p in people if p.eligible]
    every_week = dataclasses.replace(REFERENCE_SHAPE, present_share=())

    def demo_week_3(shape: TrialShape) -> float:
        made = generate_courses(
            eligible, ["IFX"] * len(eligible), seed=SEED, today=LATER, protocol=REFERENCE, shape=shape
        )
        at_3 = [v for c in made for v in c.visits if v.week == 3]
        return sum(v.hamd_items is not None for v in at_3) / len(at_3)

    def simulated_week_3(shape: TrialShape) -> float:
        data = simulate_crp_trial(400, seed=SEED, shape=shape)
        return float((data["week"] == 3).sum() / (data["week"] == 2).sum())

    assert demo_week_3(REFERENCE_SHAPE) < 0.3
    assert simulated_week_3(REFERENCE_SHAPE) < 0.3
    assert demo_week_3(every_week) > 0.9
    assert simulated_week_3(every_week) > 0.9
    # Both default to the same shape.
    for function in (generate_courses, generate_population, simulate_crp_trial):
        assert inspect.signature(function).parameters["shape"].default is REFERENCE_SHAPE


@pytest.mark.parametrize("protocol", [REFERENCE, OTHER], ids=["reference", "other"])
def test_the_example_screening_passes_every_criterion_of_the_protocol(protocol: ProtocolConfig) -> None:
    values = eligible_screening(protocol) | {
        "screening_date": dt.date(2026, 1, 10),
        "date_of_birth": dt.date(1986, 1, 10),  # 40: inside both protocols' age ranges
    }
    result = evaluate(values, protocol)
    assert result.eligible, (result.failed, result.missing)
    assert "no_pregnancy" in eligible_screening(OTHER)
    assert "substance_abuse_6mo" not in eligible_screening(OTHER)
