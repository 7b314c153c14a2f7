"""Writes for the pharmacy: receive a lot, prepare a bag, dispense it, record wastage
(protocol: Design, study drug; ICH E6(R3) investigational product accountability)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from trial import blinding
from trial.access import Capability, can, require
from trial.core.models import User
from trial.core.services import record_save, records_create, records_update
from trial.core.types import Actor
from trial.participants.models import Participant
from trial.pharmacy.models import DrugLot, Preparation, Wastage
from trial.pharmacy.selectors import DosePlan, dose_plan, lot_balance, preparation_use_by
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


# What the access log says a failed second-check sign-in was for (trial.core.access_log).
SECOND_CHECK_PURPOSE = "second check of a prepared infusion bag"
SECOND_CHECK_OWN = "You prepared this bag: the second check is signed by another pharmacist, with their own user name."
SECOND_CHECK_WRONG = "The second pharmacist's user name or password is not correct: the bag was not recorded."
SECOND_CHECK_LOCKED = (
    "Sign-in is locked after repeated failures for this user name or this computer: the bag was not recorded."
)
SECOND_CHECK_NOT_PHARMACIST = "{name} is not a pharmacist: the second check is signed by another pharmacist."


@dataclass(frozen=True)
class SecondCheck:
    """The second pharmacist's signature on one preparer's bag, made by `second_check_sign` only."""

    checker: User
    preparer_pk: int
    signed_at: datetime


def second_check_sign(*, by: Actor, username: str, password: str, request: HttpRequest | None = None) -> SecondCheck:
    """The second pharmacist signs the check of a bag `by` prepared, with both identification components.

    21 CFR 11.200(a)(1): a signature not made in one continuous session of the signer is made with the
    user ID and the password; 11.100(a) and (b): it is the signer's own and they are identified, so a
    preparer cannot sign for the checker by typing the checker's name. A wrong password is a failed
    sign-in: it goes through Django's `user_login_failed` signal, like a failed login, so the access
    log (21 CFR 11.10(e)) records it and django-axes counts it toward the lockout (11.300(d)).
    """
    preparer = require(by, Capability.DISPENSE)
    typed = (username or "").strip()
    if not typed:
        raise ValidationError({"second_checker": "Name the second person who checked the bag."})
    if typed.casefold() == preparer.get_username().casefold():
        raise ValidationError({"second_checker": SECOND_CHECK_OWN})
    if _locked_out(request, typed):
        raise ValidationError({"second_checker_password": SECOND_CHECK_LOCKED})
    checker = User.objects.filter(username=typed, is_active=True).first()
    if checker is None or not checker.check_password(password or ""):
        user_login_failed.send(
            sender=__name__, credentials={"username": typed}, request=request, purpose=SECOND_CHECK_PURPOSE
        )
        raise ValidationError({"second_checker_password": SECOND_CHECK_WRONG})
    if not can(checker, Capability.DISPENSE):
        raise ValidationError({"second_checker": SECOND_CHECK_NOT_PHARMACIST.format(name=typed)})
    return SecondCheck(checker=checker, preparer_pk=preparer.pk, signed_at=timezone.now())


def _locked_out(request: HttpRequest | None, username: str) -> bool:
    """Is this account, or the address the request comes from, locked after repeated failures?
    The same lockout as the login page (21 CFR 11.300(d)), or the second check would be a way round it."""
    if request is None or not settings.AXES_ENABLED:
        return False
    from axes.handlers.proxy import AxesProxyHandler

    return bool(AxesProxyHandler.is_locked(request, {"username": username}))


def _second_check_valid(second_check: SecondCheck, preparer: User) -> User:
    # Checked again when the bag is saved: the signature is for this preparer, by someone else who is
    # (still) a pharmacist.
    checker = second_check.checker
    if second_check.preparer_pk != preparer.pk or checker.pk == preparer.pk:
        raise ValidationError({"second_checker": SECOND_CHECK_OWN})
    if not can(checker, Capability.DISPENSE):
        raise ValidationError({"second_checker": SECOND_CHECK_NOT_PHARMACIST.format(name=checker.get_username())})
    return checker


@transaction.atomic
def preparation_create(
    *,
    visit: Visit,
    by: Actor,
    weight_kg: Decimal | float,
    saline_lot: str,
    second_check: SecondCheck,
    lot: DrugLot | None = None,
) -> Preparation:
    """Prepare the bag for one infusion visit. The arm is asked of trial.blinding, for this pharmacist."""
    by = require(by, Capability.DISPENSE)
    checker = _second_check_valid(second_check, by)
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
    prep = _bag(visit, plan, by=by, checker=checker, second_check=second_check, saline_lot=saline_lot)
    prep.weight_kg = Decimal(str(weight_kg))
    prep.prepared_at = timezone.now()
    if plan.draws_vials:
        if lot is None:
            raise ValidationError({"lot": "Choose the drug lot the vials come from."})
        lot = DrugLot.objects.select_for_update().get(pk=lot.pk)  # two bags cannot both take the last vials
        _lot_check(lot, lot_balance(lot).balance, plan.vials)
        prep.lot = lot
        prep.vials_from_lot = plan.vials
    # full_clean checks the kit id is unused; the unique constraint catches the remaining race.
    return record_save(prep, by=by)


@dataclass(frozen=True)
class BagOrder:
    """One bag for `preparations_create`: what `preparation_create` takes for one visit."""

    visit: Visit
    weight_kg: Decimal | float
    lot: DrugLot | None = None


@transaction.atomic
def preparations_create(
    *, bags: Sequence[BagOrder], by: Actor, saline_lot: str, second_check: SecondCheck
) -> list[Preparation]:
    """Prepare the bags of many infusion visits at once (`preparation_create` for each), all with one
    second check, signed for this preparer: a pharmacy making up a clinic day's bags, a synthetic trial.

    The same checks, bag by bag, each refusal naming its visit: a randomized participant still on
    treatment, an infusion visit not missed, no usable bag already made for it (nor two in the list),
    the arm asked of trial.blinding for this pharmacist, and for an active bag a lot that has not
    expired and holds the vials of every bag drawn from it here. The visits and the lots are locked
    for the transaction, as there. Then one insert of the bags with their history rows
    (trial.core.services.records_create). All or nothing.
    """
    by = require(by, Capability.DISPENSE)
    checker = _second_check_valid(second_check, by)
    if not bags:
        return []
    visits = (
        Visit.objects.select_for_update(of=("self",))
        .select_related("participant__allocation__entry", "definition")
        .in_bulk([bag.visit.pk for bag in bags])
    )
    seen: set[int] = set()
    for bag in bags:
        if bag.visit.pk in seen:
            # Named, as every other refusal here names its visit.
            raise ValidationError(f"{bag.visit}: the visit is given twice: one bag is prepared per infusion visit.")
        seen.add(bag.visit.pk)
    if len(visits) != len(seen):
        raise ValidationError("A visit given is not in the database.")
    arms = blinding.arm_codes(by, {v.participant for v in visits.values()})
    live = set(
        Preparation.objects.active()
        .filter(visit_id__in=visits)
        .exclude(status=Preparation.Status.WASTED)
        .values_list("visit_id", flat=True)
    )
    lots = DrugLot.objects.select_for_update().in_bulk({bag.lot.pk for bag in bags if bag.lot is not None})
    left = {pk: lot_balance(lot).balance for pk, lot in lots.items()}
    prepared_at = timezone.now()
    preps = []
    for bag in bags:
        visit = visits[bag.visit.pk]
        try:
            _dispensable(visit.participant)
            if not visit.definition.infusion:
                raise ValidationError(f"No infusion is given at {visit.definition.name} (Schedule).")
            if visit.status == Visit.Status.MISSED:
                raise ValidationError("This visit is recorded as missed.")
            if visit.pk in live:
                raise ValidationError(
                    "A bag has already been prepared for this visit; waste it first to prepare another."
                )
            arm = arms.get(visit.participant.pk)
            if arm is None:  # pragma: no cover - a pharmacist may always see the arm; fails closed on a role change
                raise PermissionDenied("The arm is not visible to you.")
            plan = dose_plan(arm_code=arm, weight_kg=float(bag.weight_kg))
            prep = _bag(visit, plan, by=by, checker=checker, second_check=second_check, saline_lot=saline_lot)
            prep.weight_kg = Decimal(str(bag.weight_kg))
            prep.prepared_at = prepared_at
            if plan.draws_vials:
                if bag.lot is None:
                    raise ValidationError({"lot": "Choose the drug lot the vials come from."})
                lot = lots[bag.lot.pk]
                _lot_check(lot, left[lot.pk], plan.vials)
                left[lot.pk] -= plan.vials
                prep.lot = lot
                prep.vials_from_lot = plan.vials
        except ValidationError as exc:
            raise ValidationError(f"{visit}: {' '.join(exc.messages)}") from exc
        preps.append(prep)
    # The kit ids are random and checked unique by the database's constraint (records_create).
    return records_create(preps, by=by)


def _bag(
    visit: Visit, plan: DosePlan, *, by: User, checker: User, second_check: SecondCheck, saline_lot: str
) -> Preparation:
    return Preparation(
        visit=visit,
        kit_id=kit_id_new(),
        dose_mg=plan.dose_mg,
        vials=plan.vials,
        volume_ml=plan.volume_ml,
        saline_lot=saline_lot.strip(),
        prepared_by=by,
        # 21 CFR 11.50(a): the signer's printed name, and the time they signed.
        second_checker=checker.get_full_name() or checker.get_username(),
        second_checked_by=checker,
        second_checked_at=second_check.signed_at,
    )


def _lot_check(lot: DrugLot, balance: int, vials: int) -> None:
    if lot.expiry_date < timezone.localdate():
        raise ValidationError({"lot": f"Lot {lot.lot_number} expired on {lot.expiry_date:%d %b %Y}."})
    if balance < vials:
        raise ValidationError({"lot": f"Lot {lot.lot_number} has {balance} vials left; {vials} are needed."})


@transaction.atomic
def preparations_dispense(*, preparations: Sequence[Preparation], by: Actor, dispensed_to: str) -> list[Preparation]:
    """Dispense many prepared bags at once (`preparation_dispense` for each): the same checks, each
    refusal naming its bag, under the same row locks; then one update of the bags and one insert of
    their history rows (trial.core.services.records_update). All or nothing."""
    by = require(by, Capability.DISPENSE)
    if not preparations:
        return []
    locked = (
        Preparation.objects.select_for_update(of=("self",))
        .select_related("visit__participant", "lot", "prepared_by", "second_checked_by")
        .in_bulk([p.pk for p in preparations])
    )
    bag_pks: set[int] = set()
    for bag in preparations:
        if bag.pk in bag_pks:
            raise ValidationError(f"Bag {bag.kit_id}: the bag is given twice.")
        bag_pks.add(bag.pk)
    if len(locked) != len(bag_pks):
        raise ValidationError("A bag given is not in the database.")
    participants = (
        Participant.objects.select_for_update(of=("self",))
        .select_related("allocation")
        .in_bulk({p.visit.participant_id for p in locked.values()})
    )
    now = timezone.now()
    to = dispensed_to.strip()
    preps = []
    for given in preparations:
        prep = locked[given.pk]
        try:
            _dispensable(participants[prep.visit.participant_id])
            if prep.is_voided or prep.status != Preparation.Status.PREPARED:
                raise ValidationError(f"This bag cannot be dispensed (status: {prep.get_status_display()}).")
            use_by = preparation_use_by(prep)
            if now > use_by:
                raise ValidationError(
                    f"This bag was to be used by {timezone.localtime(use_by):%d %b %Y %H:%M}: "
                    "waste it and prepare another."
                )
        except ValidationError as exc:
            raise ValidationError(f"Bag {prep.kit_id}: {' '.join(exc.messages)}") from exc
        prep.status = Preparation.Status.DISPENSED
        prep.dispensed_by = by
        prep.dispensed_at = now
        prep.dispensed_to = to
        preps.append(prep)
    return records_update(preps, by=by, reason=f"Dispensed to {to}")


@transaction.atomic
def preparation_dispense(*, preparation: Preparation, by: Actor, dispensed_to: str) -> Preparation:
    by = require(by, Capability.DISPENSE)
    prep = (
        Preparation.objects.select_for_update(of=("self",))
        # Its lot and signers with it, so validating the save need not read each of them again.
        .select_related("visit__participant", "lot", "prepared_by", "second_checked_by")
        .get(pk=preparation.pk)
    )
    participant = Participant.objects.select_for_update().get(pk=prep.visit.participant_id)
    _dispensable(participant)
    if prep.is_voided or prep.status != Preparation.Status.PREPARED:
        raise ValidationError(f"This bag cannot be dispensed (status: {prep.get_status_display()}).")
    use_by = preparation_use_by(prep)
    if timezone.now() > use_by:
        # Past the diluted infusion's stability ([pharmacy] infusion_use_by_hours): it is not given.
        raise ValidationError(
            f"This bag was to be used by {timezone.localtime(use_by):%d %b %Y %H:%M}: waste it and prepare another."
        )
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
