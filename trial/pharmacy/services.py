"""Writes for the pharmacy: receive a lot, prepare a bag, dispense it, record wastage
(protocol: Design, study drug; ICH E6(R3) investigational product accountability)."""

from __future__ import annotations

import secrets
from datetime import date
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from trial import blinding
from trial.access import Capability, require
from trial.core.services import record_save
from trial.core.types import Actor
from trial.participants.models import Participant
from trial.pharmacy.models import DrugLot, Preparation, Wastage
from trial.pharmacy.selectors import dose_plan, lot_balance
from trial.visits.models import Visit

# Crockford base32 without I, L, O, U: easy to read aloud and to type from a label.
KIT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
KIT_LENGTH = 8


def kit_id_new() -> str:
    """A random kit identifier. Takes no input, so it cannot depend on the arm, the participant or the order."""
    return "K" + "".join(secrets.choice(KIT_ALPHABET) for _ in range(KIT_LENGTH))


def drug_lot_receive(
    *,
    by: Actor,
    lot_number: str,
    expiry_date: date,
    vials_received: int,
    received_on: date,
    supplier: str = "",
) -> DrugLot:
    by = require(by, Capability.DISPENSE)
    lot = DrugLot(
        lot_number=lot_number.strip(),
        expiry_date=expiry_date,
        vials_received=vials_received,
        received_on=received_on,
        supplier=supplier,
    )
    duplicate = ValidationError({"lot_number": f"Lot {lot.lot_number} has already been received."})
    try:
        # A savepoint, so a caller's transaction survives the refusal.
        with transaction.atomic():
            return record_save(lot, by=by)
    except IntegrityError as exc:
        # The same lot received twice at once: both passed full_clean's uniqueness check, and the
        # unique constraint refused the second. Accountability (ICH E6(R3)) wants one lot record.
        if DrugLot.objects.filter(lot_number=lot.lot_number).exists():
            raise duplicate from exc
        raise


def _dispensable(participant: Participant) -> None:
    """Never before randomization, never for a withdrawn participant (protocol: Design)."""
    if getattr(participant, "allocation", None) is None:
        raise ValidationError("This participant has not been randomized: no infusion can be prepared or dispensed.")
    if participant.status == Participant.Status.WITHDRAWN:
        raise ValidationError("This participant has withdrawn: no infusion can be prepared or dispensed.")
    if participant.status != Participant.Status.RANDOMIZED:
        raise ValidationError(f"This participant is not on treatment (status: {participant.get_status_display()}).")


@transaction.atomic
def preparation_create(
    *,
    visit: Visit,
    by: Actor,
    weight_kg: Decimal | float,
    saline_lot: str,
    second_checker: str,
    lot: DrugLot | None = None,
) -> Preparation:
    """Prepare the bag for one infusion visit. The arm is asked of trial.blinding, for this pharmacist."""
    by = require(by, Capability.DISPENSE)
    visit = (
        Visit.objects.select_for_update(of=("self",))
        .select_related("participant__allocation", "definition")
        .get(pk=visit.pk)
    )
    participant = visit.participant
    _dispensable(participant)
    if not visit.definition.infusion:
        raise ValidationError(f"No infusion is given at {visit.definition.name} (Schedule).")
    if visit.status == Visit.Status.MISSED:
        raise ValidationError("This visit is recorded as missed.")
    if Preparation.objects.active().filter(visit=visit).exclude(status=Preparation.Status.WASTED).exists():
        raise ValidationError("A bag has already been prepared for this visit; waste it first to prepare another.")
    arm = blinding.arm_code(by, participant)
    if arm is None:  # pragma: no cover - a pharmacist may always see the arm; kept so a role change fails closed
        raise PermissionDenied("The arm is not visible to you.")
    plan = dose_plan(arm_code=arm, weight_kg=float(weight_kg))
    prep = Preparation(
        visit=visit,
        kit_id=kit_id_new(),
        weight_kg=Decimal(str(weight_kg)),
        dose_mg=plan.dose_mg,
        vials=plan.vials,
        volume_ml=plan.volume_ml,
        saline_lot=saline_lot.strip(),
        prepared_by=by,
        prepared_at=timezone.now(),
        second_checker=second_checker.strip(),
        second_checked_at=timezone.now(),
    )
    if plan.draws_vials:
        if lot is None:
            raise ValidationError({"lot": "Choose the drug lot the vials come from."})
        lot = DrugLot.objects.select_for_update().get(pk=lot.pk)  # two bags cannot both take the last vials
        if lot.expiry_date < timezone.localdate():
            raise ValidationError({"lot": f"Lot {lot.lot_number} expired on {lot.expiry_date:%d %b %Y}."})
        balance = lot_balance(lot).balance
        if balance < plan.vials:
            raise ValidationError({"lot": f"Lot {lot.lot_number} has {balance} vials left; {plan.vials} are needed."})
        prep.lot = lot
        prep.vials_from_lot = plan.vials
    # full_clean checks the kit id is unused; the unique constraint catches the remaining race.
    return record_save(prep, by=by)


@transaction.atomic
def preparation_dispense(*, preparation: Preparation, by: Actor, dispensed_to: str) -> Preparation:
    by = require(by, Capability.DISPENSE)
    prep = (
        Preparation.objects.select_for_update(of=("self",)).select_related("visit__participant").get(pk=preparation.pk)
    )
    participant = Participant.objects.select_for_update().get(pk=prep.visit.participant_id)
    _dispensable(participant)
    if prep.is_voided or prep.status != Preparation.Status.PREPARED:
        raise ValidationError(f"This bag cannot be dispensed (status: {prep.get_status_display()}).")
    prep.status = Preparation.Status.DISPENSED
    prep.dispensed_by = by
    prep.dispensed_at = timezone.now()
    prep.dispensed_to = dispensed_to.strip()
    return record_save(prep, by=by, reason=f"Dispensed to {prep.dispensed_to}")


@transaction.atomic
def preparation_waste(*, preparation: Preparation, by: Actor, reason: str) -> Preparation:
    by = require(by, Capability.DISPENSE)
    prep: Preparation = Preparation.objects.select_for_update().get(pk=preparation.pk)
    if prep.status != Preparation.Status.PREPARED:
        raise ValidationError(f"Only a prepared, undispensed bag can be wasted (status: {prep.get_status_display()}).")
    prep.status = Preparation.Status.WASTED
    prep.wasted_reason = reason.strip()
    return record_save(prep, by=by, reason=f"Wasted: {reason}")


def wastage_record(*, lot: DrugLot, by: Actor, vials: int, wasted_on: date, reason: str) -> Wastage:
    by = require(by, Capability.DISPENSE)
    with transaction.atomic():
        lot = DrugLot.objects.select_for_update().get(pk=lot.pk)
        if vials > lot_balance(lot).balance:
            raise ValidationError({"vials": f"Lot {lot.lot_number} has only {lot_balance(lot).balance} vials left."})
        return record_save(Wastage(lot=lot, vials=vials, wasted_on=wasted_on, reason=reason), by=by)
