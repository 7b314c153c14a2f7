"""A second trial from a protocol file alone: the file parses, the setting selects it, and
`load_protocol` loads only the file in force."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import PROTOCOL_DIR, PROTOCOL_FILES
from trial.protocol.config import ProtocolError, load_protocol_file, parse_protocol

SECOND = PROTOCOL_DIR / "infliximab_trd_dose.toml"


@pytest.mark.parametrize("path", [p.values[0] for p in PROTOCOL_FILES], ids=[p.id for p in PROTOCOL_FILES])
def test_every_protocol_file_states_its_control_and_contrasts(path: Path) -> None:
    cfg = load_protocol_file(path)
    control = cfg.arm(cfg.analysis.control_arm)
    assert not control.active
    assert all(cfg.arm(c).active for c in cfg.analysis.contrasts)
    assert len(cfg.analysis.contrasts) == 1 or cfg.analysis.multiplicity != "none"


def test_the_second_trial_has_three_arms_2_2_1_in_random_blocks_by_site_and_sex() -> None:
    cfg = load_protocol_file(SECOND)
    assert [a.code for a in cfg.arms] == ["IFX10", "IFX5", "PBO"]
    assert cfg.allocation_ratio == (2, 2, 1) and cfg.block_sizes == (5, 10)
    assert len(cfg.sites) == 3 and cfg.stratify_by_site
    assert len(cfg.strata()) == 6 and all(s.split("|")[1] in ("F", "M") for s in cfg.strata())
    assert cfg.weeks == 24 and cfg.infusion_weeks == (0, 2, 6, 14, 22)
    assert cfg.eligibility_limits["screening_crp_above"] == 3.0
    assert cfg.analysis.multiplicity == "holm" and cfg.analysis.control_arm == "PBO"
    assert cfg.dose_matched_arm.code == "IFX10"


def _without_line(text: str, line: str) -> str:
    assert line in text
    return text.replace(line, "")


def test_several_contrasts_need_a_stated_multiplicity_procedure() -> None:
    text = _without_line(SECOND.read_text(), 'multiplicity = "holm"')
    with pytest.raises(ProtocolError, match="2 contrasts need a stated multiplicity procedure"):
        parse_protocol(text)
    with pytest.raises(ProtocolError, match="control_arm 'IFX5' is an active arm"):
        parse_protocol(SECOND.read_text().replace('control_arm = "PBO"', 'control_arm = "IFX5"'))


def test_a_computed_criterion_needs_the_limit_it_is_computed_from() -> None:
    text = SECOND.read_text()
    limit = next(line for line in text.splitlines() if line.startswith("screening_crp_above"))
    with pytest.raises(ProtocolError, match="'screening_crp_enriched' is computed from screening_crp_above"):
        parse_protocol(_without_line(text, limit))


@pytest.mark.django_db
@pytest.mark.parametrize("protocol_file", PROTOCOL_FILES, indirect=True)
def test_the_setting_selects_the_trial_that_load_protocol_loads(protocol_file: Path, capsys: Any) -> None:
    from trial.protocol.models import Site, Trial
    from trial.protocol.selectors import protocol

    call_command("load_protocol", str(protocol_file))
    cfg = load_protocol_file(protocol_file)
    assert protocol().code == cfg.code == Trial.objects.get().code
    assert sorted(Site.objects.values_list("code", flat=True)) == [s.code for s in cfg.sites]
    other = next(p.values[0] for p in PROTOCOL_FILES if p.values[0] != protocol_file)
    with pytest.raises(CommandError, match="not the one in force"):
        call_command("load_protocol", str(other))
    assert Trial.objects.get().code == cfg.code
