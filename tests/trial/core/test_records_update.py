"""Changes to many saved records at once (trial.core.services.records_update): the same audit as a
change saved alone through `record_save` (21 CFR 11.10(e): who, when, why, old -> new; the reason
required), the same version check, validation and close-out guards, and all or nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.conftest import second_check_for
from trial.closeout.models import CasebookLock, DatabaseLock, SourceVerification
from trial.closeout.services import source_verify
from trial.closeout.units import UnitKey
from trial.core.audit_chain import audit_verify
from trial.core.models import AuditSeal
from trial.core.services import ConflictError, RecordLockedError, record_save, record_void, records_update
from trial.pharmacy.models import Preparation
from trial.pharmacy.services import preparation_create, preparation_waste
from trial.visits.models import Visit

pytestmark = pytest.mark.django_db

REASON = "Clinic closed that week: due dates agreed with the participant"


@pytest.fixture
def later(enrolled_a_month_ago: Any) -> list[Visit]:
    """Three scheduled visits (weeks 1-3) of one participant, as a service would have read them."""
    return list(enrolled_a_month_ago.visits.filter(definition__week__in=(1, 2, 3)).order_by("definition__week"))


def _moved(visits: list[Visit], days: int = 1) -> list[Visit]:
    for visit in visits:
        visit.scheduled_date += timedelta(days=days)
        visit.window_start += timedelta(days=days)
        visit.window_end += timedelta(days=days)
    return visits


def _stored(visits: list[Visit]) -> list[tuple[Any, ...]]:
    """What the database holds for these visits, and how many history rows each has."""
    rows = []
    for visit in Visit.objects.filter(pk__in=[v.pk for v in visits]).order_by("pk"):
        rows.append((visit.pk, visit.version, visit.scheduled_date, visit.status, visit.history.count()))
    return rows


def test_it_saves_each_change_with_its_history_row_reason_and_user(later: list[Visit], coordinator: Any) -> None:
    before = {v.pk: (v.version, v.scheduled_date) for v in later}
    records_update(_moved(later, 2), by=coordinator, reason=REASON)
    for visit in Visit.objects.filter(pk__in=before).order_by("pk"):
        version, due = before[visit.pk]
        assert visit.version == version + 1
        assert visit.scheduled_date == due + timedelta(days=2)
        assert visit.updated_by == coordinator
        latest = visit.history.order_by("-history_id").first()
        assert (latest.history_type, latest.history_change_reason, latest.history_user) == ("~", REASON, coordinator)
        assert latest.scheduled_date == due + timedelta(days=2) and latest.version == version + 1
        # One row per change: the creation and this one (nothing else changed these visits).
        assert visit.history.count() == 2
        assert AuditSeal.objects.filter(table_name=latest._meta.db_table, row_id=str(latest.pk)).exists()
    assert audit_verify() == []


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_reason_is_required(later: list[Visit], coordinator: Any, reason: str) -> None:
    before = _stored(later)
    with pytest.raises(ValidationError, match="reason"):
        records_update(_moved(later), by=coordinator, reason=reason)
    assert _stored(later) == before


def test_a_record_saved_by_someone_else_since_it_was_read_is_a_conflict(
    later: list[Visit], coordinator: Any, users: Any
) -> None:
    # Someone else moves week 2 after the batch read it: the batch's copy is one version behind.
    other = Visit.objects.get(pk=later[1].pk)
    other.reason = "note"
    record_save(other, by=users["investigator"], reason="Their own change")
    before = _stored(later)
    with pytest.raises(ConflictError):
        records_update(_moved(later), by=coordinator, reason=REASON)
    # All or nothing: weeks 1 and 3, which nobody else touched, are not changed either.
    assert _stored(later) == before


def test_a_voided_record_is_refused(later: list[Visit], coordinator: Any) -> None:
    voided = record_void(Visit.objects.get(pk=later[2].pk), by=coordinator, reason="Entered in error")
    later[2] = voided  # the batch holds the current version, so only the void stands in the way
    before = _stored(later)
    with pytest.raises(ValidationError, match="voided"):
        records_update(_moved(later), by=coordinator, reason=REASON)
    assert _stored(later) == before


def test_an_invalid_value_is_refused_and_nothing_is_written(later: list[Visit], coordinator: Any) -> None:
    before = _stored(later)
    _moved(later)
    later[1].status = "postponed"  # not one of the visit's statuses
    with pytest.raises(ValidationError) as refused:
        records_update(later, by=coordinator, reason=REASON)
    assert "status" in refused.value.message_dict
    assert _stored(later) == before


def test_a_locked_database_refuses_the_changes(later: list[Visit], coordinator: Any) -> None:
    # Made directly: the lock service wants every casebook finished, and only the lock matters here.
    DatabaseLock.objects.create(locked_at=timezone.now())
    before = _stored(later)
    with pytest.raises(RecordLockedError, match="study database is locked"):
        records_update(_moved(later), by=coordinator, reason=REASON)
    assert _stored(later) == before


def test_a_locked_casebook_refuses_the_changes(later: list[Visit], coordinator: Any, users: Any) -> None:
    CasebookLock.objects.create(
        participant=later[0].participant, locked_by=users["datamanager"], locked_at=timezone.now()
    )
    before = _stored(later)
    with pytest.raises(RecordLockedError, match="casebook is locked"):
        records_update(_moved(later), by=coordinator, reason=REASON)
    assert _stored(later) == before


def test_a_change_after_source_verification_clears_it_and_says_so(
    later: list[Visit], coordinator: Any, users: Any
) -> None:
    participant = later[0].participant
    baseline = participant.visits.get(definition__week=0)  # done: its date is there to verify
    mark = source_verify(participant=participant, unit=UnitKey(baseline.pk, "visit"), by=users["datamanager"])
    untouched = source_verify(participant=participant, unit=UnitKey(None, "consent"), by=users["datamanager"])
    records_update(_moved([baseline, *later]), by=coordinator, reason=REASON)
    mark.refresh_from_db()
    assert mark.cleared_at is not None
    assert "Visit date was changed by coordinator" in mark.cleared_reason
    assert "after it was verified" in mark.cleared_reason
    # A form the batch did not change keeps its verification.
    assert SourceVerification.objects.get(pk=untouched.pk).cleared_at is None


def test_changes_to_many_casebooks_clear_the_marks_of_each_and_only_theirs(
    make_participant: Any, active_list: Any, coordinator: Any, users: Any
) -> None:
    """One call changes visits of three participants: the first had the changed form verified, the
    second a signed casebook, the third a verification of a form the call leaves alone."""
    from tests.trial.visits.test_visits_complete import _enrolled
    from trial.closeout.models import Signature

    verified, signed, other = (_enrolled(make_participant, coordinator) for _ in range(3))
    dm = users["datamanager"]
    baseline = verified.visits.get(definition__week=0)
    mark = source_verify(participant=verified, unit=UnitKey(baseline.pk, "visit"), by=dm)
    kept = source_verify(participant=other, unit=UnitKey(other.visits.get(definition__week=0).pk, "visit"), by=dm)
    signature = Signature.objects.create(
        participant=signed,
        signer=users["investigator"],
        printed_name="Investigator",
        meaning="Reviewed and approved",
        signed_at=timezone.now(),
        content_sha256="0" * 64,
    )
    changed = [baseline, *(p.visits.get(definition__week=3) for p in (signed, other))]
    records_update(_moved(changed), by=coordinator, reason=REASON)
    mark.refresh_from_db()
    signature.refresh_from_db()
    assert mark.cleared_at is not None and "after it was verified" in mark.cleared_reason
    assert signature.voided_at is not None
    assert SourceVerification.objects.get(pk=kept.pk).cleared_at is None


# --- Uniqueness: asked when a change could break it, not otherwise ---------------------------------


@pytest.fixture
def wasted_and_live(randomized: Any, users: Any, pharmacy_lot: Any) -> tuple[Preparation, Preparation]:
    """A wasted bag for week 0 and the live bag prepared in its place."""
    w0 = randomized.visits.get(definition__week=0)
    pharmacist = users["pharmacist"]

    def bag() -> Preparation:
        return preparation_create(
            visit=w0,
            by=pharmacist,
            weight_kg=82,
            saline_lot="NS1",
            second_check=second_check_for(users),
            lot=pharmacy_lot,
        )

    wasted = preparation_waste(preparation=bag(), by=pharmacist, reason="Dropped")
    return wasted, bag()


def test_un_wasting_a_bag_while_another_is_live_is_refused(
    wasted_and_live: tuple[Preparation, Preparation], users: Any
) -> None:
    wasted, live = wasted_and_live
    wasted.status = Preparation.Status.PREPARED  # the status is in the constraint's condition
    with pytest.raises(ValidationError, match="one_live_preparation_per_visit"):
        records_update([wasted], by=users["pharmacist"], reason="Not dropped after all")
    assert Preparation.objects.get(pk=wasted.pk).status == Preparation.Status.WASTED
    assert Preparation.objects.get(pk=live.pk).status == Preparation.Status.PREPARED


def _spy_uniqueness(monkeypatch: pytest.MonkeyPatch, model: Any) -> list[tuple[str, int]]:
    asked: list[tuple[str, int]] = []
    unique, constraints = model.validate_unique, model.validate_constraints

    def spy_unique(self: Any, *args: Any, **kwargs: Any) -> None:
        asked.append(("unique", self.pk))
        unique(self, *args, **kwargs)

    def spy_constraints(self: Any, *args: Any, **kwargs: Any) -> None:
        asked.append(("constraints", self.pk))
        constraints(self, *args, **kwargs)

    monkeypatch.setattr(model, "validate_unique", spy_unique)
    monkeypatch.setattr(model, "validate_constraints", spy_constraints)
    return asked


@pytest.mark.parametrize("one_by_one", [False, True], ids=["records_update", "record_save"])
def test_a_change_within_a_constraints_condition_is_not_asked_again(
    wasted_and_live: tuple[Preparation, Preparation],
    users: Any,
    monkeypatch: pytest.MonkeyPatch,
    one_by_one: bool,
) -> None:
    """The live bag's status moves from prepared to dispensed: it was under the one-live-bag rule and
    stays under it with the same visit, so it cannot newly clash. Un-wasting the other bag brings it
    under the rule: asked, and refused, by both paths."""
    wasted, live = wasted_and_live
    asked = _spy_uniqueness(monkeypatch, Preparation)
    live.status = Preparation.Status.DISPENSED
    live.dispensed_to = "Infusion nurse"
    live.dispensed_at = timezone.now()
    if one_by_one:
        record_save(live, by=users["pharmacist"], reason="Dispensed")
    else:
        records_update([live], by=users["pharmacist"], reason="Dispensed")
    assert asked == []
    assert Preparation.objects.get(pk=live.pk).status == Preparation.Status.DISPENSED
    wasted.status = Preparation.Status.PREPARED
    with pytest.raises(ValidationError, match="one_live_preparation_per_visit"):
        if one_by_one:
            record_save(wasted, by=users["pharmacist"], reason="Not dropped after all")
        else:
            records_update([wasted], by=users["pharmacist"], reason="Not dropped after all")
    assert ("constraints", wasted.pk) in asked
    assert Preparation.objects.get(pk=wasted.pk).status == Preparation.Status.WASTED


def test_uniqueness_is_asked_only_of_a_change_that_touches_it(
    later: list[Visit], coordinator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _spy_uniqueness(monkeypatch, Visit)
    # Due dates are in no uniqueness rule of a visit (one per participant and definition).
    records_update(_moved(later), by=coordinator, reason=REASON)
    assert asked == []
    # Moving week 3 onto week 2's definition touches one_visit_per_definition: asked, and refused.
    refreshed = list(Visit.objects.filter(pk__in=[v.pk for v in later]).order_by("definition__week"))
    refreshed[2].definition = refreshed[1].definition
    with pytest.raises(ValidationError, match="already exists"):
        records_update(refreshed, by=coordinator, reason=REASON)
    assert ("constraints", refreshed[2].pk) in asked
    assert {pk for _, pk in asked} == {refreshed[2].pk}


# --- What it takes ---------------------------------------------------------------------------------


def test_a_new_record_is_refused(later: list[Visit], coordinator: Any) -> None:
    new = Visit(participant=later[0].participant, definition=later[0].definition)
    with pytest.raises(ValueError, match="saved records of one model"):
        records_update([later[0], new], by=coordinator, reason=REASON)


def test_records_of_two_models_are_refused(later: list[Visit], coordinator: Any) -> None:
    with pytest.raises(ValueError, match="saved records of one model"):
        records_update([later[0], later[0].participant], by=coordinator, reason=REASON)


def test_a_record_given_twice_is_refused(later: list[Visit], coordinator: Any) -> None:
    twin = Visit.objects.get(pk=later[0].pk)
    with pytest.raises(ValueError, match="each record once"):
        records_update([later[0], later[1], twin], by=coordinator, reason=REASON)
