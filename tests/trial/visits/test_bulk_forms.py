"""Visit forms entered in bulk (hamd_records_create, cgis_records_create, vitals_records_create,
lab_samples_create, lab_results_create): the checks of their one-at-a-time services, the audit of
`records_create` (history rows, sealed: 21 CFR 11.10(e)), the blind (ICH E6(R3) 4.2), the close-out
locks, and all or nothing."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from trial.closeout.models import CasebookLock, DatabaseLock
from trial.closeout.services import form_freeze
from trial.closeout.units import UnitKey
from trial.core.audit_chain import audit_verify
from trial.core.models import AuditSeal
from trial.core.services import INITIAL_ENTRY, RecordLockedError, record_void
from trial.participants.services import end_of_study_record
from trial.visits import services
from trial.visits.models import CGIS, HamD17, LabResult, LabSample, Visit, VitalSigns
from trial.visits.services import LabEntry

pytestmark = pytest.mark.django_db

ITEMS: dict[int | str, int] = dict.fromkeys(range(1, 18), 1)


@pytest.fixture
def visits(enrolled_a_month_ago: Any, coordinator: Any) -> dict[int, Visit]:
    """Weeks 0, 1 and 2 done (weeks 3 and 4 are due in the past, not yet done)."""
    p = enrolled_a_month_ago
    for week in (1, 2):
        visit = p.visits.get(definition__week=week)
        services.visit_complete(visit=visit, actual_date=visit.scheduled_date, by=coordinator)
    return {v.definition.week: v for v in p.visits.select_related("definition")}


def _sample_time(visit: Visit) -> datetime:
    return timezone.make_aware(datetime.combine(visit.scheduled_date, time(9, 0)))


# One bulk call per form: (model, the user who enters it, a call entering it at these visits).
FORMS: dict[str, tuple[type[Any], str, Any]] = {
    "hamd17": (HamD17, "rater", lambda vs, by: services.hamd_records_create(ratings=[(v, ITEMS) for v in vs], by=by)),
    "cgis": (CGIS, "rater", lambda vs, by: services.cgis_records_create(scores=[(v, 4) for v in vs], by=by)),
    "vitals": (
        VitalSigns,
        "coordinator",
        lambda vs, by: services.vitals_records_create(entries=[(v, {"weight_kg": 70}) for v in vs], by=by),
    ),
    "lab sample": (
        LabSample,
        "coordinator",
        lambda vs, by: services.lab_samples_create(
            samples=[(v, _sample_time(v), f" T-{v.definition.week} ") for v in vs], by=by
        ),
    ),
    "lab result": (
        LabResult,
        "unblinded",
        lambda vs, by: services.lab_results_create(
            results=[LabEntry(v, "hs_crp", _sample_time(v), value=1.5) for v in vs], by=by
        ),
    ),
}


def _assert_audited(records: list[Any], by: Any) -> None:
    for record in records:
        (snapshot,) = record.history.all()
        assert (snapshot.history_user, snapshot.history_change_reason) == (by, INITIAL_ENTRY)
        assert record.created_by == by and record.version == 1
        assert AuditSeal.objects.filter(table_name=snapshot._meta.db_table, row_id=str(snapshot.pk)).exists()
    assert audit_verify() == []


@pytest.mark.parametrize("form", sorted(FORMS))
def test_it_creates_the_records_with_sealed_history(visits: dict[int, Visit], users: Any, form: str) -> None:
    model, who, create = FORMS[form]
    created = create([visits[0], visits[1], visits[2]], users[who])
    assert len(created) == 3 and all(r.pk for r in created)
    assert set(model.objects.values_list("visit__definition__week", flat=True)) == {0, 1, 2}
    _assert_audited(created, users[who])


def test_the_records_hold_what_their_forms_derive(visits: dict[int, Visit], users: Any) -> None:
    (hamd,) = services.hamd_records_create(ratings=[(visits[1], {**ITEMS, "item_1": 4})], by=users["rater"])
    assert HamD17.objects.get(pk=hamd.pk).total == 20 and hamd.rated_by == users["rater"]
    (sample,) = services.lab_samples_create(
        samples=[(visits[1], _sample_time(visits[1]), "  T-7 ")], by=users["coordinator"]
    )
    assert LabSample.objects.get(pk=sample.pk).tube_id == "T-7"
    (tnf,) = services.lab_results_create(
        results=[LabEntry(visits[1], "tnf", _sample_time(visits[1]), replicate_1=1.5, replicate_2=1.7)],
        by=users["unblinded"],
    )
    tnf = LabResult.objects.get(pk=tnf.pk)
    assert (str(tnf.value), tnf.unit) == ("1.600", "pg/mL")


# --- Who may enter them ---------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["hamd17", "cgis"])
@pytest.mark.parametrize("name", ["pharmacist", "datamanager", "statistician", "admin"])
def test_a_role_that_does_not_rate_cannot_enter_ratings(
    visits: dict[int, Visit], users: Any, form: str, name: str
) -> None:
    model, _, create = FORMS[form]
    with pytest.raises(PermissionDenied):
        create([visits[0], visits[1]], users[name])
    assert not model.objects.exists()


@pytest.mark.parametrize("form", ["vitals", "lab sample"])
def test_the_rater_does_not_enter_vitals_or_samples(visits: dict[int, Visit], users: Any, form: str) -> None:
    model, _, create = FORMS[form]
    with pytest.raises(PermissionDenied):
        create([visits[1]], users["rater"])
    assert not model.objects.exists()


@pytest.mark.parametrize("name", ["coordinator", "investigator"])
def test_blinded_staff_cannot_enter_a_revealing_result_even_among_baseline_ones(
    visits: dict[int, Visit], users: Any, name: str
) -> None:
    at = _sample_time(visits[0])
    baseline = [
        LabEntry(visits[0], "hs_crp", at, value=2),
        LabEntry(visits[0], "tnf", at, replicate_1=1.5, replicate_2=1.7),
        LabEntry(visits[0], "stnfr1", at, replicate_1=900, replicate_2=950),
    ]
    revealing = LabEntry(visits[2], "hs_crp", _sample_time(visits[2]), value=3.1)
    for results in ([*baseline, revealing], [revealing, *baseline], [revealing]):
        with pytest.raises(PermissionDenied):
            services.lab_results_create(results=results, by=users[name])
        assert not LabResult.objects.exists()
    # The baseline values alone reveal nothing: blinded staff enter them.
    assert len(services.lab_results_create(results=baseline, by=users[name])) == 3


def test_the_unblinded_statistician_enters_revealing_and_baseline_results(visits: dict[int, Visit], users: Any) -> None:
    created = services.lab_results_create(
        results=[
            LabEntry(visits[0], "hs_crp", _sample_time(visits[0]), value=2),
            LabEntry(visits[2], "hs_crp", _sample_time(visits[2]), value=3.1),
        ],
        by=users["unblinded"],
    )
    assert sorted(str(r.value) for r in LabResult.objects.filter(pk__in=[r.pk for r in created])) == ["2.000", "3.100"]
    _assert_audited(created, users["unblinded"])


@pytest.mark.parametrize("name", ["rater", "statistician", "dsmb", "pharmacist"])
def test_other_roles_enter_no_results(visits: dict[int, Visit], users: Any, name: str) -> None:
    with pytest.raises(PermissionDenied):
        services.lab_results_create(
            results=[LabEntry(visits[0], "hs_crp", _sample_time(visits[0]), value=2)], by=users[name]
        )
    assert not LabResult.objects.exists()


# --- Which visits take data -----------------------------------------------------------------------


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_missed_visit_among_them_refuses_them_all(visits: dict[int, Visit], users: Any, form: str) -> None:
    model, who, create = FORMS[form]
    missed = services.visit_miss(visit=visits[3], reason="Travel", by=users["coordinator"])
    with pytest.raises(ValidationError, match="recorded as missed; change its status before entering data"):
        create([visits[0], visits[1], missed], users[who])
    assert not model.objects.exists()


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_visit_after_the_end_of_study_refuses_them_all(
    visits: dict[int, Visit], users: Any, coordinator: Any, form: str
) -> None:
    model, who, create = FORMS[form]
    p = visits[0].participant
    end_of_study_record(
        participant=p, outcome="withdrawn", end_date=visits[2].scheduled_date, reason="withdrew consent", by=coordinator
    )
    week3 = Visit.objects.select_related("definition").get(pk=visits[3].pk)  # as the next request loads it
    with pytest.raises(ValidationError, match="after the participant's end of study"):
        create([visits[1], week3], users[who])
    assert not model.objects.exists()
    # The visits done before the end still take their data, as one at a time.
    assert len(create([visits[1], visits[2]], users[who])) == 2


# --- One record per visit (and analyte) -----------------------------------------------------------


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_visit_given_twice_is_refused(visits: dict[int, Visit], users: Any, form: str) -> None:
    model, who, create = FORMS[form]
    with pytest.raises(ValidationError, match=r"is given twice\."):
        create([visits[0], visits[1], visits[0]], users[who])
    assert not model.objects.exists()


def test_one_analyte_twice_at_a_visit_is_refused_two_analytes_are_not(visits: dict[int, Visit], users: Any) -> None:
    at = _sample_time(visits[1])
    with pytest.raises(ValidationError, match=r"^\['Lab result tnf at .* is given twice\.'\]$"):
        services.lab_results_create(
            results=[
                LabEntry(visits[1], "hs_crp", at, value=1),
                LabEntry(visits[1], "tnf", at, replicate_1=1, replicate_2=1),
                LabEntry(visits[1], "tnf", at, replicate_1=2, replicate_2=2),
            ],
            by=users["unblinded"],
        )
    assert not LabResult.objects.exists()
    created = services.lab_results_create(
        results=[
            LabEntry(visits[1], "hs_crp", at, value=1),
            LabEntry(visits[1], "tnf", at, replicate_1=1, replicate_2=1),
        ],
        by=users["unblinded"],
    )
    assert len(created) == 2


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_record_already_entered_is_changed_on_its_form(visits: dict[int, Visit], users: Any, form: str) -> None:
    model, who, create = FORMS[form]
    create([visits[1]], users[who])
    with pytest.raises(
        ValidationError, match="is already entered: change it on its form, with a reason for the change"
    ):
        create([visits[0], visits[1]], users[who])
    assert set(model.objects.values_list("visit__definition__week", flat=True)) == {1}


@pytest.mark.parametrize("form", ["lab sample", "lab result"])
def test_a_voided_record_leaves_room_for_a_new_one(visits: dict[int, Visit], users: Any, form: str) -> None:
    model, who, create = FORMS[form]
    (first,) = create([visits[1]], users[who])
    record_void(first, by=users[who], reason="Wrong tube")
    (second,) = create([visits[1]], users[who])
    assert second.pk != first.pk
    assert model.objects.active().get().pk == second.pk
    assert model.objects.count() == 2


@pytest.mark.parametrize("form", ["hamd17", "cgis", "vitals"])
def test_a_voided_form_of_one_per_visit_says_it_can_no_longer_be_entered(
    visits: dict[int, Visit], users: Any, form: str
) -> None:
    model, who, create = FORMS[form]
    (first,) = create([visits[1]], users[who])
    record_void(first, by=users[who], reason="Entered at the wrong visit")
    with pytest.raises(ValidationError, match="was voided: it can no longer be entered or changed"):
        create([visits[1]], users[who])
    assert model.objects.count() == 1


@pytest.mark.parametrize("form", sorted(FORMS))
def test_an_entry_made_by_someone_else_during_the_batch_is_refused_in_words(
    visits: dict[int, Visit], users: Any, form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The other entry lands between the check and the insert (a race): the database's constraint
    # refuses the batch, and the user is told so, not shown an IntegrityError.
    model, who, create = FORMS[form]
    real = services.records_create
    raced: list[Any] = []

    def someone_else_first(rows: Any, *, by: Any) -> Any:
        if not raced:
            raced.append(True)
            monkeypatch.setattr(services, "records_create", real)
            create([visits[1]], users[who])
        return real(rows, by=by)

    monkeypatch.setattr(services, "records_create", someone_else_first)
    with pytest.raises(ValidationError, match="by someone else a moment ago: nothing was saved"):
        create([visits[0], visits[1]], users[who])
    # Nothing of the batch is left (here the other entry, made inside the batch's transaction to
    # stand in for a concurrent one, is rolled back with it).
    assert not model.objects.exists()
    assert raced


# --- All or nothing -------------------------------------------------------------------------------


def test_one_hamd_item_out_of_range_refuses_the_batch(visits: dict[int, Visit], users: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        services.hamd_records_create(
            ratings=[(visits[0], ITEMS), (visits[1], ITEMS), (visits[2], {**ITEMS, 4: 3})], by=users["rater"]
        )
    assert "item_4" in caught.value.message_dict
    assert not HamD17.objects.exists()
    assert not HamD17.history.exists()


def test_one_cgis_score_out_of_range_refuses_the_batch(visits: dict[int, Visit], users: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        services.cgis_records_create(scores=[(visits[0], 4), (visits[1], 8)], by=users["rater"])
    assert "score" in caught.value.message_dict
    assert not CGIS.objects.exists()


def test_an_unknown_analyte_refuses_the_batch(visits: dict[int, Visit], users: Any) -> None:
    with pytest.raises(ValidationError, match="Analyte must be one of"):
        services.lab_results_create(
            results=[
                LabEntry(visits[0], "hs_crp", _sample_time(visits[0]), value=1),
                LabEntry(visits[0], "il6", _sample_time(visits[0]), value=1),
            ],
            by=users["coordinator"],
        )
    assert not LabResult.objects.exists()
    assert not LabResult.history.exists()


def test_a_result_without_a_value_refuses_the_batch(visits: dict[int, Visit], users: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        services.lab_results_create(
            results=[
                LabEntry(visits[1], "hs_crp", _sample_time(visits[1]), value=1),
                LabEntry(visits[1], "tnf", _sample_time(visits[1]), replicate_1=1.5),
            ],
            by=users["unblinded"],
        )
    assert "value" in caught.value.message_dict
    assert not LabResult.objects.exists()


def test_an_impossible_weight_refuses_the_batch(visits: dict[int, Visit], users: Any) -> None:
    with pytest.raises(ValidationError):
        services.vitals_records_create(
            entries=[(visits[0], {"weight_kg": 70}), (visits[1], {"weight_kg": 900})], by=users["coordinator"]
        )
    assert not VitalSigns.objects.exists()


def test_nothing_given_writes_nothing(visits: dict[int, Visit], users: Any) -> None:
    assert services.hamd_records_create(ratings=[], by=users["rater"]) == []
    with pytest.raises(PermissionDenied):
        services.hamd_records_create(ratings=[], by=users["pharmacist"])


# --- Close-out: locked data are final (ICH E6(R3); 21 CFR 11.10(a), (d)) ----------------------------


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_locked_database_refuses_them(visits: dict[int, Visit], users: Any, form: str) -> None:
    model, who, create = FORMS[form]
    # Made directly: the lock service wants every casebook finished, and only the lock matters here.
    DatabaseLock.objects.create(locked_at=timezone.now())
    with pytest.raises(RecordLockedError, match="study database is locked"):
        create([visits[0], visits[1]], users[who])
    assert not model.objects.exists()


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_locked_casebook_refuses_them(visits: dict[int, Visit], users: Any, form: str) -> None:
    model, who, create = FORMS[form]
    CasebookLock.objects.create(
        participant=visits[0].participant, locked_by=users["datamanager"], locked_at=timezone.now()
    )
    with pytest.raises(RecordLockedError, match="casebook is locked"):
        create([visits[0], visits[1]], users[who])
    assert not model.objects.exists()


@pytest.mark.parametrize(
    ("form", "unit"), [("hamd17", "hamd17"), ("cgis", "cgis"), ("vitals", "vitals"), ("lab result", "labs")]
)
def test_a_frozen_form_refuses_them_and_other_visits_stay_open(
    visits: dict[int, Visit], users: Any, form: str, unit: str
) -> None:
    model, who, create = FORMS[form]
    form_freeze(participant=visits[0].participant, unit=UnitKey(visits[1].pk, unit), by=users["datamanager"])
    with pytest.raises(RecordLockedError, match="is frozen"):
        create([visits[0], visits[1]], users[who])
    assert not model.objects.exists()
    assert len(create([visits[0], visits[2]], users[who])) == 2
