from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import CommandError

from trial.protocol.config import ProtocolError, load_protocol_file, parse_protocol

PROTOCOL = Path(__file__).resolve().parents[3] / "protocols" / "infliximab_trd.toml"


def test_it_parses_the_reference_protocol():
    cfg = load_protocol_file(PROTOCOL)
    assert [a.code for a in cfg.arms] == ["IFX", "PBO"]
    assert cfg.arm("IFX").dose_mg_per_kg == 5.0
    assert cfg.block_sizes == (4,)
    assert cfg.strata() == ["CRP<2|F", "CRP<2|M", "CRP>=2|F", "CRP>=2|M"]
    assert [v.week for v in cfg.visits if v.week >= 0] == [0, 1, 2, 3, 4, 6, 8, 10, 12]
    assert cfg.infusion_weeks == (0, 2, 6)
    assert [i.max for i in cfg.hamd_items] == [4, 4, 4, 2, 2, 2, 4, 4, 4, 4, 4, 2, 2, 2, 4, 2, 2]
    assert sum(i.max for i in cfg.hamd_items) == 52
    assert {a.code for a in cfg.labs if a.reveals_arm_post_baseline} == {"hs_crp", "tnf", "stnfr1", "stnfr2"}
    assert cfg.baseline_max_days_after_screening == 31
    weight = cfg.measure("weight_kg")
    assert (weight.label, weight.unit, weight.min, weight.max) == ("Weight", "kg", 30, 250)
    assert set(cfg.measures) == {
        "age_years",
        "weight_kg",
        "height_cm",
        "systolic_mmhg",
        "diastolic_mmhg",
        "heart_rate_bpm",
        "temperature_c",
        "episode_duration_months",
        "conmed_dose",
        "vials",
        "infusion_delay_days",
    }
    assert cfg.earliest_date.isoformat() == "2007-01-01"
    assert cfg.safety_followup_days == 30


def test_it_puts_the_crp_cut_at_two():
    crp = load_protocol_file(PROTOCOL).stratification[0]
    assert crp.level_for(1.99) == "CRP<2"
    assert crp.level_for(2.0) == "CRP>=2"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("block_sizes = [4]", "block_sizes = [3]", "not a multiple of the allocation ratio"),
        (
            'code = "W12"\nname = "Week 12 (end of study)"\nweek = 12',
            'code = "W12"\nname = "Week 12"\nweek = 11',
            "weeks = 12",
        ),
        ("window_before_days = 2", "window_before_days = -2", "window days must be >= 0"),
        ('{ number = 3, name = "Suicide", max = 4 },\n', "", "numbered 1 to 17"),
        ("cut = 2.0\n", "", "numeric 'cut'"),
        ("age_min = 25", "age_min = 65", "age_min is above age_max"),
        ('code = "PBO"', 'code = "IFX"', "arm codes must be unique"),
        ("[measures.height_cm]", "[measures.height]", "[measures.height_cm] is missing"),
        (
            'unit = "kg"\nmin = 30\nmax = 250',
            'unit = "kg"\nmin = 250\nmax = 30',
            "[measures.weight_kg]: min must be below max",
        ),
        ('unit = "bpm"\nmin = 30', 'unit = "bpm"\nmin = "thirty"', "[measures.heart_rate_bpm]: 'min' must be"),
        ("earliest = 2007-01-01", 'earliest = "2007"', "[dates]: 'earliest' must be date"),
        ("lot_shelf_life_max_days = 1830", "lot_shelf_life_max_days = 0", "lot_shelf_life_max_days must be positive"),
        ('collection_starts = "consent"', 'collection_starts = "baseline"', "[safety]: collection_starts"),
        ("followup_days_after_end = 30", "followup_days_after_end = -1", "followup_days_after_end must be >= 0"),
    ],
)
def test_it_refuses_a_broken_protocol_naming_the_problem(old, new, message):
    text = PROTOCOL.read_text()
    assert old in text
    with pytest.raises(ProtocolError) as exc:
        parse_protocol(text.replace(old, new, 1))
    assert any(message in p for p in exc.value.problems), exc.value.problems


def test_it_refuses_invalid_toml():
    with pytest.raises(ProtocolError, match="not valid TOML"):
        parse_protocol("[trial\ncode=")


def test_the_system_check_refuses_a_broken_file(settings, tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text(PROTOCOL.read_text().replace("block_sizes = [4]", "block_sizes = [5]"))
    settings.STRATUM_PROTOCOL_FILE = broken
    errors = [e for e in run_checks(tags=["stratum"]) if e.id.startswith("stratum.")]
    assert errors and "block size 5" in errors[0].msg


def test_the_system_check_passes_the_reference_file():
    assert [e for e in run_checks(tags=["stratum"]) if e.id.startswith("stratum.")] == []


@pytest.mark.django_db
def test_load_protocol_command_loads_it_idempotently():
    from trial.protocol.models import Site, Trial, VisitDefinition

    call_command("load_protocol")
    call_command("load_protocol")
    assert Trial.objects.get().code == "IFX-TRD"
    assert Site.objects.count() == 1
    assert list(VisitDefinition.objects.filter(infusion=True).values_list("week", flat=True)) == [0, 2, 6]


@pytest.mark.django_db
def test_load_protocol_command_reports_a_broken_file(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text(PROTOCOL.read_text().replace("target_enrollment = 60", "target_enrollment = -1"))
    with pytest.raises(CommandError, match="target_enrollment must be positive"):
        call_command("load_protocol", file=str(broken))


def test_the_system_check_refuses_a_criterion_the_screening_form_cannot_record(settings, tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text(PROTOCOL.read_text().replace('code = "cancer_history"', 'code = "cancer_history_any"'))
    settings.STRATUM_PROTOCOL_FILE = broken
    errors = [e for e in run_checks(tags=["stratum"]) if e.id == "stratum.E003"]
    assert errors and "cancer_history_any" in errors[0].msg
