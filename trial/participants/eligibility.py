"""Eligibility from screening data (Eligibility section of the protocol). Plain Python.

The same function serves the model, the service, the live form and the API, so the answer cannot
differ between them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from trial.protocol.config import ProtocolConfig


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    failed: tuple[str, ...]  # criterion codes
    computed: dict[str, bool]  # the values of the computed criteria
    missing: tuple[str, ...]  # what is needed before eligibility can be decided


def age_on(date_of_birth: date, on: date) -> int:
    return on.year - date_of_birth.year - ((on.month, on.day) < (date_of_birth.month, date_of_birth.day))


def computed_criteria(values: Mapping[str, Any], config: ProtocolConfig) -> dict[str, bool | None]:
    lim = config.eligibility_limits
    dob, on = values.get("date_of_birth"), values.get("screening_date")
    age = age_on(dob, on) if isinstance(dob, date) and isinstance(on, date) else None

    def ge(v: Any, limit: float) -> bool | None:
        return None if v is None or v == "" else float(v) >= limit

    item3 = values.get("hamd_item3")
    mmse = values.get("mmse")
    computed: dict[str, bool | None] = {}
    if "screening_crp_above" in lim:
        # An enrichment design: enrol only above the cut (strictly greater, as the protocol states it).
        crp = values.get("screening_crp_mg_l")
        computed["screening_crp_enriched"] = None if crp in (None, "") else float(crp) > lim["screening_crp_above"]
    return computed | {
        "age_25_60": None if age is None else lim["age_min"] <= age <= lim["age_max"],
        "mgh_s_ge_2": ge(values.get("mgh_s"), lim["mgh_s_min"]),
        "qids_sr_ge_14": ge(values.get("qids_sr"), lim["qids_sr_min"]),
        "active_suicidal_ideation": None if item3 in (None, "") else int(item3) > lim["hamd_item3_max"],
        "mmse_lt_28": None if mmse in (None, "") else int(mmse) < lim["mmse_min"],
    }


def evaluate(values: Mapping[str, Any], config: ProtocolConfig) -> Eligibility:
    """Inclusion criteria must all be True, exclusion criteria all False.

    `values` maps criterion codes (attested ones) and measure names to values; the computed
    criteria are derived from the measures and override anything passed for them.
    """
    computed = computed_criteria(values, config)
    failed: list[str] = []
    missing: list[str] = []
    for crit in config.inclusion:
        v = computed.get(crit.code) if crit.computed else values.get(crit.code)
        if v is None:
            missing.append(crit.code)
        elif not v:
            failed.append(crit.code)
    for crit in config.exclusion:
        v = computed.get(crit.code) if crit.computed else values.get(crit.code)
        if v is None:
            missing.append(crit.code)
        elif v:
            failed.append(crit.code)
    return Eligibility(
        eligible=not failed and not missing,
        failed=tuple(failed),
        computed={k: bool(v) for k, v in computed.items() if v is not None},
        missing=tuple(missing),
    )
