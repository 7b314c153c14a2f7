"""One eligible screening, as data: shared by the test fixtures and the benchmarks.

It passes every criterion of the protocol's Eligibility section: the measures sit just inside the
file's limits and every attested criterion is answered the passing way. Callers add the screening
date and the screening hs-CRP (which decides the stratum).
"""

from pathlib import Path
from typing import Any

from trial.protocol.config import ProtocolConfig, load_protocol_file

# The reference protocol, read from its file without Django, so importing this stays cheap.
_REFERENCE_PROTOCOL_FILE = Path(__file__).resolve().parents[2] / "protocols" / "infliximab_trd.toml"


def eligible_screening(protocol: ProtocolConfig) -> dict[str, Any]:
    """Screening values that pass every criterion of `protocol` (date and hs-CRP not included)."""
    limits = protocol.eligibility_limits
    return {
        "qids_sr": int(limits["qids_sr_min"]) + 3,
        "mmse": max(int(limits["mmse_min"]), int(protocol.scales["mmse"].max) - 1),
        "mgh_s": limits["mgh_s_min"] + 1.0,
        "hamd_item3": min(1, int(limits["hamd_item3_max"])),
        "bipolar": False,
        "on_antidepressant": True,
        "episode_duration_months": 120,
        "height_cm": 168,
        "weight_kg": 82,
        **{c.code: True for c in protocol.inclusion if not c.computed},
        **{c.code: False for c in protocol.exclusion if not c.computed},
    }


ELIGIBLE_SCREENING: dict[str, Any] = eligible_screening(load_protocol_file(_REFERENCE_PROTOCOL_FILE))
