"""What a casebook is made of: its forms ("units"), the records of each, and the SHA-256 of their
exact content.

A unit is (visit or None, form code). The hash is over a canonical JSON of every record of the unit,
voided ones included, with each record's model, id, version and field values; so any save through
`record_save` (which raises the version) changes it (21 CFR 11.70: the signature is linked to the
exact record signed; ICH E6(R3): verification applies to the data as verified).
Treatment allocation and pharmacy records are not part of a casebook: they would tie a signature or
a blinded monitor's verification to the arm.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import models

from trial.participants.models import Consent, EndOfStudy, Participant, Screening
from trial.safety.models import AdverseEvent, ConcomitantMedication, ProtocolDeviation
from trial.visits.models import CGIS, HamD17, Infusion, LabResult, Visit, VitalSigns
from trial.visits.selectors import FORM_LABELS, VISIT_FORMS

# Participant-level forms, keyed by model; one unit each.
PARTICIPANT_FORMS: dict[type[models.Model], str] = {
    Screening: "screening",
    Consent: "consent",
    EndOfStudy: "end_of_study",
    AdverseEvent: "adverse_events",
    ConcomitantMedication: "conmeds",
    ProtocolDeviation: "deviations",
}
# Forms entered at a visit; "visit" is the visit's own date or missed status.
VISIT_FORM_MODELS: dict[type[models.Model], str] = {
    Visit: "visit",
    HamD17: "hamd17",
    CGIS: "cgis",
    LabResult: "labs",
    VitalSigns: "vitals",
    Infusion: "infusion",
}
LABELS = {
    **FORM_LABELS,
    "screening": "Screening",
    "consent": "Consent",
    "adverse_events": "Adverse events",
    "conmeds": "Concomitant medications",
    "deviations": "Protocol deviations",
    "visit": "Visit date",
}
# Not hashed: set on every save whatever the content (the version already records that a save happened).
_VOLATILE = {"updated_at"}


@dataclass(frozen=True)
class UnitKey:
    visit_id: int | None
    form: str

    @property
    def label(self) -> str:
        return LABELS.get(self.form, self.form)

    def lookup(self) -> dict[str, Any]:
        """Filter arguments for the close-out rows of this unit."""
        visit: dict[str, Any] = {"visit__isnull": True} if self.visit_id is None else {"visit_id": self.visit_id}
        return visit | {"form": self.form}


def unit_of(instance: models.Model) -> tuple[int, UnitKey] | None:
    """(participant id, unit) of a clinical record, or None if it is in no casebook form."""
    model = type(instance)
    if model in PARTICIPANT_FORMS:
        return int(instance.participant_id), UnitKey(None, PARTICIPANT_FORMS[model])  # type: ignore[attr-defined]  # every model listed has the FK
    if model is Visit:
        return int(instance.participant_id), UnitKey(instance.pk, "visit")  # type: ignore[attr-defined]  # Visit has the FK
    if model in VISIT_FORM_MODELS:
        visit_id = instance.visit_id  # type: ignore[attr-defined]  # every model listed has the FK
        return _visit_owner(instance, visit_id), UnitKey(visit_id, VISIT_FORM_MODELS[model])
    return None


def participant_of(instance: models.Model) -> int | None:
    """The participant a record belongs to, if any (also for records in no form, such as a bag)."""
    if isinstance(instance, Participant):
        return instance.pk
    participant_id = getattr(instance, "participant_id", None)
    if participant_id is not None:
        return int(participant_id)
    visit_id = getattr(instance, "visit_id", None)
    if visit_id is not None:
        return _visit_owner(instance, visit_id)
    return None


def _visit_owner(instance: models.Model, visit_id: int) -> int:
    """The participant of a record's visit. A visit never changes participant, so the visit object the
    service already holds answers without a query; only a bare visit id is looked up."""
    field = instance._meta.get_field("visit")
    if field.is_cached(instance):  # type: ignore[union-attr]  # a ForeignKey
        visit = field.get_cached_value(instance)  # type: ignore[union-attr]  # as above
        if isinstance(visit, Visit) and visit.pk == visit_id:
            return int(visit.participant_id)
    return int(Visit.objects.filter(pk=visit_id).values_list("participant_id", flat=True).get())


def casebook_records_of(participant_ids: list[int]) -> dict[int, dict[UnitKey, list[models.Model]]]:
    """Every record of these casebooks, by participant and unit (voided ones too: a void is a change).

    One query per form model whatever the number of participants, so the close-out overview and the
    monitor's worklist cost the same for 60 participants as for 10,000."""
    out: dict[int, dict[UnitKey, list[models.Model]]] = {pk: {} for pk in participant_ids}
    for model, form in PARTICIPANT_FORMS.items():
        for record in model._default_manager.filter(participant_id__in=participant_ids).order_by("pk"):
            out[record.participant_id].setdefault(UnitKey(None, form), []).append(record)  # type: ignore[attr-defined]  # every model listed has the FK
    owner: dict[int, int] = {}
    for visit in Visit.objects.filter(participant_id__in=participant_ids).select_related("definition").order_by("pk"):
        owner[visit.pk] = visit.participant_id
        out[visit.participant_id].setdefault(UnitKey(visit.pk, "visit"), []).append(visit)
    for model, form in VISIT_FORM_MODELS.items():
        if model is Visit:
            continue
        for record in model._default_manager.filter(visit__participant_id__in=participant_ids).order_by("pk"):
            visit_id = record.visit_id  # type: ignore[attr-defined]  # visit FK
            out[owner[visit_id]].setdefault(UnitKey(visit_id, form), []).append(record)
    return out


def casebook_records(participant: Participant) -> dict[UnitKey, list[models.Model]]:
    """Every record of one casebook, by unit."""
    return casebook_records_of([participant.pk])[participant.pk]


def casebook_visits(units: dict[UnitKey, list[models.Model]]) -> list[Visit]:
    """The casebook's visits (voided ones too), in schedule order, from its records."""
    visits = [r for key, records in units.items() if key.form == "visit" for r in records if isinstance(r, Visit)]
    return sorted(visits, key=lambda v: (v.scheduled_date, v.pk))


def _canonical(record: models.Model) -> dict[str, Any]:
    values = {f.attname: getattr(record, f.attname) for f in record._meta.concrete_fields if f.attname not in _VOLATILE}
    return {"model": record._meta.label_lower, "values": values}


def content_sha256(records: list[models.Model]) -> str:
    payload = json.dumps([_canonical(r) for r in records], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def casebook_sha256(units: dict[UnitKey, list[models.Model]]) -> str:
    ordered = sorted(units.items(), key=lambda kv: (kv[0].visit_id or 0, kv[0].form))
    flat = [r for _key, records in ordered for r in records]
    return content_sha256(flat)


def expected_units(participant: Participant, units: dict[UnitKey, list[models.Model]]) -> list[UnitKey]:
    """The forms the protocol expects of this casebook (Schedule of assessments): screening; consent,
    every visit's date and each of its forms, and end of study once randomized. A visit scheduled after
    a withdrawal is not expected."""
    expected = [UnitKey(None, "screening")]
    if participant.status in (Participant.Status.SCREENING, Participant.Status.SCREEN_FAILED):
        return expected
    expected.append(UnitKey(None, "consent"))
    if participant.status == Participant.Status.ELIGIBLE:
        return expected
    eos: Any = next((r for r in units.get(UnitKey(None, "end_of_study"), []) if not r.is_voided), None)  # type: ignore[attr-defined]  # clinical record
    for visit in casebook_visits(units):
        if visit.definition.week < 0 or visit.is_voided:
            continue
        if eos is not None and visit.status == Visit.Status.SCHEDULED and visit.window_start > eos.end_date:
            continue
        expected.append(UnitKey(visit.pk, "visit"))
        if visit.status != Visit.Status.MISSED:
            expected += [UnitKey(visit.pk, f) for f in visit.definition.forms if f in VISIT_FORMS]
    expected.append(UnitKey(None, "end_of_study"))
    return expected


def has_live_data(records: list[models.Model], key: UnitKey) -> bool:
    live = [r for r in records if not r.is_voided]  # type: ignore[attr-defined]  # clinical records
    if key.form == "visit":
        return any(v.status != Visit.Status.SCHEDULED for v in live)  # type: ignore[attr-defined]  # visits
    return bool(live)
