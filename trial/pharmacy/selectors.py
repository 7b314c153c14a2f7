"""Reads for the pharmacy: the queue of infusions due, dose plans, lot accountability.

Every arm shown here is asked of trial.blinding for the requesting user; pages are for unblinded
roles only, and the selectors refuse anyone else, so a future page cannot leak by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Q, Sum
from django.utils.timezone import localdate as timezone_localdate

from trial import blinding
from trial.participants.models import Participant
from trial.participants.scope import site_filter
from trial.pharmacy.models import DrugLot, Preparation, Wastage
from trial.protocol.selectors import protocol
from trial.visits.models import Infusion, Visit, VitalSigns, arm_dose_mg, planned_dose_mg

# Design: each infusion is given in a 250 mL saline bag.
BAG_VOLUME_ML = 250


@dataclass(frozen=True)
class DosePlan:
    arm_code: str
    weight_kg: float
    dose_mg: int
    vials: int
    volume_ml: Decimal
    draws_vials: bool
    preparation: str


def dose_plan(*, arm_code: str, weight_kg: float) -> DosePlan:
    """Design: the arm's mg/kg dose, rounded to whole vials; placebo matched in volume.

    Every bag carries the volume of the dose-matched arm (the highest active dose; with one active
    arm, that arm), so no bag can be told apart, whether by drug or by dose: a lower active dose is
    made up to it with saline. An active arm's dose and vials are its own and it draws them from a
    lot; placebo draws none, and its plan names the dose it is matched to.
    """
    config = protocol()
    arm = config.arm(arm_code)
    matched = config.dose_matched_arm
    matched_dose = planned_dose_mg(weight_kg)
    volume = Decimal(str(matched_dose // matched.vial_mg * matched.vial_reconstitution_ml)).quantize(Decimal("0.1"))
    dose = arm_dose_mg(arm, weight_kg) if arm.active else matched_dose
    vials = dose // (arm.vial_mg if arm.active else matched.vial_mg)
    return DosePlan(arm.code, weight_kg, dose, vials, volume, arm.active, arm.preparation)


@dataclass(frozen=True)
class Weight:
    kg: float | None
    source: str


# (scheduled date, weight in kg, visit name) of a participant's vital signs, newest first.
VitalsHistory = list[tuple[date, float, str]]


def vitals_history(participant_ids: list[int]) -> dict[int, VitalsHistory]:
    """Every participant's recorded weights, newest visit first: one query for a whole queue."""
    history: dict[int, VitalsHistory] = {pk: [] for pk in participant_ids}
    for participant_id, scheduled, weight, name in (
        VitalSigns.objects.active()
        .filter(visit__participant_id__in=participant_ids, weight_kg__isnull=False)
        .order_by("-visit__scheduled_date", "-pk")
        .values_list("visit__participant_id", "visit__scheduled_date", "weight_kg", "visit__definition__name")
    ):
        history[participant_id].append((scheduled, float(weight), name))
    return history


def weight_at_visit(visit: Visit, history: VitalsHistory | None = None) -> Weight:
    """The weight the dose is computed from: the infusion form, else that visit's vitals, else the latest."""
    infusion = getattr(visit, "infusion", None)
    if infusion is not None and not infusion.is_voided:
        return Weight(float(infusion.weight_kg), "infusion record")
    vitals = getattr(visit, "vitals", None)
    if vitals is not None and not vitals.is_voided:
        return Weight(float(vitals.weight_kg), "vital signs at this visit")
    if history is None:
        history = vitals_history([visit.participant_id])[visit.participant_id]
    earlier = next((h for h in history if h[0] <= visit.scheduled_date), None)
    if earlier is not None:
        return Weight(earlier[1], f"vital signs at {earlier[2]}")
    screening = getattr(visit.participant, "screening", None)
    if screening is not None and screening.weight_kg is not None:
        return Weight(float(screening.weight_kg), "screening")
    return Weight(None, "not recorded")


@dataclass(frozen=True)
class QueueRow:
    visit: Visit
    participant_id: str
    randomization_number: str
    arm_code: str
    arm_label: str
    weight: Weight
    plan: DosePlan | None
    preparation: Preparation | None

    @property
    def due(self) -> date:
        return self.visit.scheduled_date


def _require_unblinded(user: Any) -> None:
    if not blinding.is_unblinded_role(user):
        raise PermissionError("Pharmacy records are shown to unblinded roles only.")


def infusion_queue(*, user: Any, include_dispensed: bool = False) -> list[QueueRow]:
    """Infusion visits of participants on treatment, by due date, that still need a bag dispensed, at
    the sites this user may reach (a site's pharmacist prepares for that site)."""
    _require_unblinded(user)
    visits = (
        Visit.objects.active()
        .filter(site_filter(user, "participant__site"))
        .filter(definition__infusion=True, participant__status=Participant.Status.RANDOMIZED)
        .exclude(status=Visit.Status.MISSED)
        .select_related("definition", "participant__allocation__entry", "participant__screening", "infusion", "vitals")
        .order_by("scheduled_date", "participant__participant_id")
    )
    live = {
        p.visit_id: p
        for p in Preparation.objects.active().exclude(status=Preparation.Status.WASTED).filter(visit__in=visits)
    }
    history = vitals_history(sorted({v.participant_id for v in visits}))
    rows = []
    for visit in visits:
        prep = live.get(visit.pk)
        if prep is not None and prep.status == Preparation.Status.DISPENSED and not include_dispensed:
            continue
        participant = visit.participant
        code = blinding.arm_code(user, participant)
        if code is None:  # pragma: no cover - an unblinded role sees every arm
            continue
        weight = weight_at_visit(visit, history[visit.participant_id])
        rows.append(
            QueueRow(
                visit=visit,
                participant_id=participant.participant_id,
                randomization_number=participant.allocation.entry.randomization_number,
                arm_code=code,
                arm_label=blinding.arm_label(user, participant) or "",
                weight=weight,
                plan=None if weight.kg is None else dose_plan(arm_code=code, weight_kg=weight.kg),
                preparation=prep,
            )
        )
    return rows


def queue_row(*, user: Any, visit: Visit) -> QueueRow | None:
    for row in infusion_queue(user=user, include_dispensed=True):
        if row.visit.pk == visit.pk:
            return row
    return None


def preparation_use_by(preparation: Preparation) -> datetime:
    """When the prepared bag must have been used: [pharmacy] infusion_use_by_hours after preparation
    (the diluted infusion's stability). The same rule for every arm, so the label says nothing of it."""
    return preparation.prepared_at + timedelta(hours=protocol().infusion_use_by_hours)


def preparation_arm(*, user: Any, preparation: Preparation) -> tuple[str, str]:
    _require_unblinded(user)
    participant = preparation.visit.participant
    return blinding.arm_code(user, participant) or "", blinding.arm_label(user, participant) or ""


def preparations(*, user: Any) -> Any:
    _require_unblinded(user)
    return (
        Preparation.objects.active()
        .filter(site_filter(user, "visit__participant__site"))
        .select_related("visit__participant", "visit__definition", "lot", "prepared_by")
    )


def dispensation_log(*, user: Any) -> Any:
    """Every preparation that left the pharmacy or was wasted, newest first: the accountability log
    (ICH E6(R3): investigational product accountability, who received what and when)."""
    return (
        preparations(user=user)
        .filter(status__in=(Preparation.Status.DISPENSED, Preparation.Status.WASTED))
        .select_related("dispensed_by")
        .order_by("-prepared_at", "-id")
    )


@dataclass(frozen=True)
class LotBalance:
    lot: DrugLot
    received: int
    dispensed: int
    prepared_not_dispensed: int
    wasted: int

    @property
    def balance(self) -> int:
        return self.received - self.dispensed - self.prepared_not_dispensed - self.wasted


def lot_balance(lot: DrugLot) -> LotBalance:
    """Drug accountability for one lot: received, dispensed, wasted, balance (ICH E6(R3): investigational
    product accountability)."""
    # One pass over the lot's bags for the three counts (asked at every preparation, under the lot's lock).
    statuses = {"dispensed": Preparation.Status.DISPENSED, "prepared": Preparation.Status.PREPARED}
    statuses["wasted"] = Preparation.Status.WASTED
    bags = (
        Preparation.objects.active()
        .filter(lot=lot)
        .aggregate(**{k: Sum("vials_from_lot", filter=Q(status=v)) for k, v in statuses.items()})
    )
    wasted_loose = int(Wastage.objects.active().filter(lot=lot).aggregate(n=Sum("vials"))["n"] or 0)
    return LotBalance(
        lot=lot,
        received=lot.vials_received,
        dispensed=int(bags["dispensed"] or 0),
        prepared_not_dispensed=int(bags["prepared"] or 0),
        wasted=int(bags["wasted"] or 0) + wasted_loose,
    )


def accountability(*, user: Any) -> list[LotBalance]:
    _require_unblinded(user)
    return [lot_balance(lot) for lot in DrugLot.objects.active()]


def usable_lots(on: date) -> Any:
    return DrugLot.objects.active().filter(expiry_date__gte=on)


# --- Reconciliation of the clinic's infusion record with the pharmacy's dispensing ----------------
# ICH E6(R3) investigational product accountability: every bag the pharmacy dispensed was given, and
# every infusion given came from a dispensed bag. Kinds of mismatch (also the check codes of the
# queries they raise, trial.closeout.reconciliation):
GIVEN_NOT_DISPENSED = "given_not_dispensed"
DISPENSED_NOT_GIVEN = "dispensed_not_given"


@dataclass(frozen=True)
class Mismatch:
    kind: str
    participant: Participant
    visit: Visit
    preparation: Preparation | None

    @property
    def text(self) -> str:
        """The question the mismatch raises. Names the kit and the visit, never the arm, the dose or a
        vial count (the query is for the pharmacy only, and says no more than it needs)."""
        where = f"{self.participant.participant_id}, {self.visit.definition.name}"
        if self.kind == GIVEN_NOT_DISPENSED:
            return (
                f"{where}: the clinic recorded an infusion, but the pharmacy dispensed no bag for this visit. "
                "Record the dispensing, or ask the site to correct the infusion record."
            )
        kit = self.preparation.kit_id if self.preparation is not None else ""
        return (
            f"{where}: bag {kit} was dispensed, but no infusion was recorded and the visit window closed on "
            f"{self.visit.window_end:%d %b %Y}. Was it given, returned or destroyed?"
        )


def reconciliation_mismatches(*, user: Any, today: date | None = None) -> list[Mismatch]:
    """Infusions given with no bag dispensed, and bags dispensed with no infusion given once the visit's
    window has closed (before, the infusion may simply not be entered yet). Three queries whatever
    the size of the trial."""
    _require_unblinded(user)
    today = today or timezone_localdate()
    given = {
        inf.visit_id: inf.visit
        for inf in Infusion.objects.active()
        .filter(visit__voided_at__isnull=True)
        .select_related("visit__participant", "visit__definition")
    }
    dispensed: dict[int, Preparation] = {}
    for prep in (
        Preparation.objects.active()
        .filter(status=Preparation.Status.DISPENSED, visit__voided_at__isnull=True)
        .select_related("visit__participant", "visit__definition")
        .order_by("dispensed_at", "id")
    ):
        dispensed.setdefault(prep.visit_id, prep)
    found = [
        Mismatch(GIVEN_NOT_DISPENSED, visit.participant, visit, None)
        for visit_id, visit in given.items()
        if visit_id not in dispensed
    ]
    found += [
        Mismatch(DISPENSED_NOT_GIVEN, prep.visit.participant, prep.visit, prep)
        for visit_id, prep in dispensed.items()
        if visit_id not in given and prep.visit.window_end < today
    ]
    return sorted(found, key=lambda m: (m.participant.participant_id, m.visit.scheduled_date, m.kind))
