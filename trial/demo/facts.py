"""The protocol facts the demo generator follows, read once from the protocol file.

Every fact the synthetic data must obey (schedule, windows, infusions, instruments, criteria, arms,
ranges) comes from `ProtocolConfig`, never from a literal here, so a second protocol file yields
data that follows it. What is *not* a protocol fact (how people score, drop out or fall ill) is the
trial's shape: `analysis.stats.trial_shape` and the assumptions beside each generator module.
"""

from __future__ import annotations

from dataclasses import dataclass

from trial.protocol.config import ProtocolConfig

# Instruments: the eligibility limit on HAM-D item 3 (suicide) names the item by its number.
_SUICIDE_ITEM_NUMBER = 3


@dataclass(frozen=True)
class ScheduledVisit:
    week: int
    window_before_days: int
    window_after_days: int
    forms: frozenset[str]
    infusion: bool


@dataclass(frozen=True)
class ProtocolFacts:
    # Schedule of assessments: the on-study visits from baseline (week 0), in order.
    visits: tuple[ScheduledVisit, ...]
    # Design: the baseline visit is no later than this many days after screening.
    baseline_max_days_after_screening: int
    # Instruments: the maximum score of each HAM-D-17 item, item 1 first.
    hamd_item_max: tuple[int, ...]
    suicide_item_index: int  # zero-based position of item 3
    cgi_s_range: tuple[int, int]
    qids_sr_range: tuple[int, int]
    mmse_range: tuple[int, int]
    # Eligibility: criterion codes in the protocol's order, and which of them are computed from
    # the screening measures (the others are the investigator's attestation).
    inclusion: tuple[str, ...]
    exclusion: tuple[str, ...]
    computed: frozenset[str]
    age_range: tuple[int, int]
    # Exclusion: HAM-D item 3 at or above this score is active suicidal ideation.
    suicidal_ideation_score: int
    # Design: arm codes, and which arms get the active drug.
    arms: tuple[str, ...]
    active_arms: frozenset[str]
    # Schedule of assessments: the analytes measured, and which run in duplicate.
    analytes: tuple[str, ...]
    duplicate_analytes: frozenset[str]
    # End of study: the reasons the CRF accepts.
    end_of_study_reasons: tuple[str, ...]
    # Concomitant medications: the one NSAID dose allowed.
    aspirin_allowed_mg: float

    @classmethod
    def from_config(cls, config: ProtocolConfig) -> ProtocolFacts:
        limits = config.eligibility_limits
        item3 = next(it for it in config.hamd_items if it.number == _SUICIDE_ITEM_NUMBER)
        return cls(
            visits=tuple(
                ScheduledVisit(
                    week=v.week,
                    window_before_days=v.window_before_days,
                    window_after_days=v.window_after_days,
                    forms=frozenset(v.forms),
                    infusion=v.infusion,
                )
                for v in sorted(config.visits, key=lambda v: v.week)
                if v.week >= 0  # screening (week -1) is not an on-study visit
            ),
            baseline_max_days_after_screening=config.baseline_max_days_after_screening,
            hamd_item_max=tuple(it.max for it in config.hamd_items),
            suicide_item_index=config.hamd_items.index(item3),
            cgi_s_range=_int_range(config, "cgis"),
            qids_sr_range=_int_range(config, "qids_sr"),
            mmse_range=_int_range(config, "mmse"),
            inclusion=tuple(c.code for c in config.inclusion),
            exclusion=tuple(c.code for c in config.exclusion),
            computed=frozenset(c.code for c in config.inclusion + config.exclusion if c.computed),
            age_range=(int(limits["age_min"]), int(limits["age_max"])),
            suicidal_ideation_score=int(limits["hamd_item3_max"]) + 1,
            arms=tuple(a.code for a in config.arms),
            active_arms=frozenset(a.code for a in config.arms if a.active),
            analytes=tuple(lab.code for lab in config.labs),
            duplicate_analytes=frozenset(lab.code for lab in config.labs if lab.duplicates),
            end_of_study_reasons=config.end_of_study_reasons,
            aspirin_allowed_mg=config.aspirin_allowed_mg,
        )

    @property
    def weeks(self) -> tuple[int, ...]:
        return tuple(v.week for v in self.visits)

    @property
    def infusion_weeks(self) -> tuple[int, ...]:
        return tuple(v.week for v in self.visits if v.infusion)

    @property
    def criteria(self) -> tuple[str, ...]:
        return (*self.inclusion, *self.exclusion)

    def is_active(self, arm: str) -> bool:
        if arm not in self.arms:
            raise ValueError(f"unknown arm {arm!r}: the protocol's arms are {list(self.arms)}")
        return arm in self.active_arms

    def arm_stream(self, arm: str) -> int:
        """A stable number per arm for its random stream: control arms even, active arms odd.

        Numbered within each kind in protocol order, so a two-arm trial's control arm is 0 and
        its active arm 1 whatever order the protocol file lists them in.
        """
        active = self.is_active(arm)
        same_kind = [a for a in self.arms if (a in self.active_arms) is active]
        return 2 * same_kind.index(arm) + int(active)


def _int_range(config: ProtocolConfig, scale: str) -> tuple[int, int]:
    s = config.scales[scale]
    return int(s.min), int(s.max)
