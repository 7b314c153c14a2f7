"""Rules of the safety records: adverse event, concomitant medication, protocol deviation.

Each `*_rules()` list is applied by the record's model in clean() and by its form, so the two give
the same message on the same field (the shape of a rule: trial.core.validators). Choice values are
the models' (AdverseEvent.Outcome, ConcomitantMedication.DrugClass); the tests of each rule fail if
the two drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trial.core.validators import EndAfterStart, InRange, NotBefore, NotInFuture, Required, Rule, SingleLine
from trial.participants.rules import OnOrAfterScreening, SafetyCollectionWindow
from trial.protocol.config import ProtocolConfig

# Seriousness criteria (ICH E2A): an event meeting any of them is serious.
SAE_CRITERIA = (
    "sae_death",
    "sae_life_threatening",
    "sae_hospitalization",
    "sae_disability",
    "sae_congenital_anomaly",
    "sae_important_medical_event",
)


class SeriousnessMatchesCriteria:
    """Serious if and only if a seriousness criterion is ticked (ICH E2A)."""

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        any_criterion = any(data.get(c) for c in SAE_CRITERIA)
        if data.get("serious") and not any_criterion:
            return {"serious": "A serious adverse event needs at least one seriousness criterion."}
        if any_criterion and not data.get("serious"):
            return {"serious": "A seriousness criterion is ticked: mark the event as serious."}
        return {}


class EndMatchesOngoing:
    """An ongoing event has no end date; a resolved one has its end date."""

    RESOLVED = ("recovered", "sequelae")  # AdverseEvent.Outcome values

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        ongoing, end = data.get("ongoing"), data.get("end_date")
        if ongoing and end:
            return {"end_date": "An ongoing event has no end date."}
        if not ongoing and not end and data.get("outcome") in self.RESOLVED:
            return {"end_date": "A resolved event needs its end date."}
        return {}


class DeathIsFatal:
    """The criterion 'results in death' and the outcome 'Fatal' go together (ICH E2A).

    Said as soon as the criterion is ticked, outcome chosen or not: a user who left the outcome empty
    learns in the same answer which outcome it must be, not after choosing another one."""

    def __call__(self, data: Mapping[str, Any]) -> dict[str, str]:
        if data.get("sae_death") and data.get("outcome") != "fatal":
            return {"outcome": "An event resulting in death has the outcome 'Fatal'."}
        return {}


# The choices an event must have, said in the record's words. They are rules rather than the form
# fields' own "required": a field that fails its own check drops out of the values every other rule
# reads, so its neighbours' messages (death and 'Fatal') would appear only once it was filled in.
AE_REQUIRED = {
    "severity": "Give the severity.",
    "relatedness": "Say how the event is related to the study drug.",
    "outcome": "Give the outcome.",
}


def adverse_event_rules(config: ProtocolConfig) -> list[Rule]:
    return [
        *(Required(field, message) for field, message in AE_REQUIRED.items()),
        SingleLine("term"),
        SeriousnessMatchesCriteria(),
        NotInFuture("onset_date", "end_date"),
        NotBefore("onset_date", "end_date", earliest=config.earliest_date),
        # Protocol file [safety]: collected from consent; until a screen failure, or the follow-up after the end.
        SafetyCollectionWindow("onset_date", what="Adverse events", followup_days=config.safety_followup_days),
        EndAfterStart("onset_date", "end_date", "The event cannot end before its onset."),
        EndMatchesOngoing(),
        DeathIsFatal(),
    ]


def conmed_rules(config: ProtocolConfig) -> list[Rule]:
    # Schedule of assessments, Prohibited: aspirin is allowed only at the protocol's dose, so the dose is needed.
    dose = config.measure("conmed_dose")
    return [
        SingleLine("name", "dose_unit", "indication"),
        NotInFuture("start_date", "end_date"),
        NotBefore("end_date", earliest=config.earliest_date),
        EndAfterStart("start_date", "end_date", "The medication cannot stop before it starts."),
        # A medication taken since before consent is concomitant too; it is still recorded only from consent on.
        SafetyCollectionWindow(
            "start_date",
            what="Concomitant medications",
            followup_days=config.safety_followup_days,
            before_consent_allowed=True,
        ),
        InRange(
            "dose", dose.min, dose.max, label=dose.label, message="A dose is between {lo} and {hi}; {value} is not."
        ),
        Required(
            "dose",
            f"Give the aspirin dose: only {config.aspirin_allowed_mg:g} mg is allowed.",
            when={"drug_class": "aspirin"},
        ),
    ]


def deviation_rules(config: ProtocolConfig) -> list[Rule]:
    return [
        NotInFuture("deviation_date"),
        NotBefore("deviation_date", earliest=config.earliest_date),
        OnOrAfterScreening("deviation_date"),
        Required("description", "Describe the deviation."),
    ]
