"""Each visit form through the write API: entered (201), corrected with version and reason (200),
a stale or missing version (409), a missing reason (400), the roles of the web pages, the blind."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.trial.api.conftest import arm_keys
from trial.visits.models import CGIS, HamD17, Infusion, LabResult, SoftCheckFiring, Visit, VitalSigns

pytestmark = pytest.mark.django_db

HAMD = {f"item_{n}": 1 for n in range(1, 18)}


def _morning(visit: Visit) -> str:
    return f"{visit.actual_date.isoformat()}T09:00:00Z"


def _bodies(visit: Visit) -> dict[str, tuple[dict[str, Any], dict[str, Any], type, str, Any]]:
    """form -> (first entry, a correction's fields, model, field changed, its new value)."""
    return {
        "hamd": (HAMD, HAMD | {"item_1": 3}, HamD17, "item_1", 3),
        "cgis": ({"score": 4}, {"score": 5}, CGIS, "score", 5),
        "vitals": (
            {"weight_kg": "80.0", "systolic_mmhg": 120, "diastolic_mmhg": 80},
            {"weight_kg": "81.5"},
            VitalSigns,
            "weight_kg",
            81.5,
        ),
        "infusion": (
            {"weight_kg": "80.0", "start_time": _morning(visit), "stop_time": f"{visit.actual_date}T11:00:00Z"},
            {"weight_kg": "80.0", "reaction": "Mild flushing"},
            Infusion,
            "reaction",
            "Mild flushing",
        ),
    }


def _url(visit: Visit, form: str) -> str:
    return f"/api/visits/{visit.pk}/{form}/"


@pytest.mark.parametrize("form", ["hamd", "cgis", "vitals", "infusion"])
def test_it_enters_and_corrects_a_visit_form_through_the_service(
    api: Any, baseline_visit: Visit, coordinator: Any, form: str
) -> None:
    first, change, model, field, new = _bodies(baseline_visit)[form]
    client = api("coordinator")
    created = client.put(_url(baseline_visit, form), first, format="json")
    assert created.status_code == 201, created.json()
    record = model.objects.get(visit=baseline_visit)
    assert created.json()["version"] == record.version and arm_keys(created.json()) == []
    assert record.history.first().history_user == coordinator

    edit = change | {"version": record.version, "reason": "Source document re-read"}
    changed = client.put(_url(baseline_visit, form), edit, format="json")
    assert changed.status_code == 200, changed.json()
    record.refresh_from_db()
    assert float(getattr(record, field)) == new if isinstance(new, float) else getattr(record, field) == new
    latest, before = record.history.all()[:2]
    assert getattr(latest, field) != getattr(before, field)
    assert latest.history_change_reason == "Source document re-read" and latest.history_user == coordinator
    assert arm_keys(changed.json()) == []


@pytest.mark.parametrize("form", ["hamd", "cgis", "vitals", "infusion"])
def test_a_correction_from_a_stale_version_is_409_and_changes_nothing(
    api: Any, baseline_visit: Visit, form: str
) -> None:
    first, change, model, _field, _new = _bodies(baseline_visit)[form]
    client = api("coordinator")
    client.put(_url(baseline_visit, form), first, format="json")
    version = model.objects.get(visit=baseline_visit).version
    ok = client.put(_url(baseline_visit, form), first | {"version": version, "reason": "one"}, format="json")
    assert ok.status_code == 200, ok.json()
    stale = client.put(_url(baseline_visit, form), change | {"version": version, "reason": "two"}, format="json")
    assert stale.status_code == 409 and stale.json()["current_version"] == version + 1
    missing = client.put(_url(baseline_visit, form), change | {"reason": "three"}, format="json")
    assert missing.status_code == 409 and missing.json()["code"] == "version_missing"
    assert model.objects.get(visit=baseline_visit).version == version + 1


@pytest.mark.parametrize("form", ["hamd", "cgis", "vitals", "infusion"])
def test_a_correction_without_a_reason_is_400(api: Any, baseline_visit: Visit, form: str) -> None:
    first, change, model, _field, _new = _bodies(baseline_visit)[form]
    client = api("coordinator")
    client.put(_url(baseline_visit, form), first, format="json")
    version = model.objects.get(visit=baseline_visit).version
    response = client.put(_url(baseline_visit, form), change | {"version": version}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    assert model.objects.get(visit=baseline_visit).version == version


def test_a_form_of_a_visit_not_yet_done_needs_its_date_and_records_it(api: Any, randomized: Any) -> None:
    visit = randomized.visits.get(definition__week=0)
    client = api("rater")
    missing = client.put(_url(visit, "hamd"), HAMD, format="json")
    assert missing.status_code == 400 and "visit_date" in missing.json()
    done = client.put(_url(visit, "hamd"), HAMD | {"visit_date": visit.scheduled_date.isoformat()}, format="json")
    assert done.status_code == 201, done.json()
    visit.refresh_from_db()
    assert visit.status == Visit.Status.DONE and visit.actual_date == visit.scheduled_date


@pytest.mark.parametrize(("username", "form"), [("rater", "vitals"), ("rater", "infusion"), ("rater", "labs")])
def test_a_rater_cannot_enter_what_the_web_does_not_let_them(
    api: Any, baseline_visit: Visit, username: str, form: str
) -> None:
    body = {"weight_kg": "80.0", "results": [{"analyte": "hs_crp", "replicate_1": "2.0", "replicate_2": "2.1"}]}
    assert api(username).put(_url(baseline_visit, form), body, format="json").status_code == 403


@pytest.mark.parametrize("username", ["datamanager", "statistician", "pharmacist", "admin"])
def test_roles_that_do_not_rate_cannot_put_hamd(api: Any, baseline_visit: Visit, username: str) -> None:
    assert api(username).put(_url(baseline_visit, "hamd"), HAMD, format="json").status_code == 403
    assert not HamD17.objects.exists()


def _lab_body(visit: Visit, **extra: Any) -> dict[str, Any]:
    return {
        "sample_time": _morning(visit),
        "results": [
            {"analyte": "hs_crp", "value": "2.050"},
            {"analyte": "tnf", "replicate_1": "2.000", "replicate_2": "2.100"},
        ],
    } | extra


def test_it_enters_and_corrects_baseline_labs(api: Any, baseline_visit: Visit, coordinator: Any) -> None:
    client = api("coordinator")
    created = client.put(_url(baseline_visit, "labs"), _lab_body(baseline_visit), format="json")
    assert created.status_code == 201, created.json()
    lab = LabResult.objects.get(visit=baseline_visit, analyte="tnf")
    assert float(lab.value) == pytest.approx(2.05)  # the mean of the duplicates
    rows = {row["analyte"]: row for row in created.json()["results"]}
    assert set(rows) == {"hs_crp", "tnf"} and rows["tnf"]["version"] == lab.version
    assert lab.history.first().history_user == coordinator
    corrected = {"analyte": "tnf", "replicate_1": "3.000", "replicate_2": "3.100", "version": lab.version}
    body = _lab_body(baseline_visit, results=[corrected], reason="Re-assayed")
    changed = client.put(_url(baseline_visit, "labs"), body, format="json")
    assert changed.status_code == 200, changed.json()
    lab.refresh_from_db()
    assert float(lab.value) == pytest.approx(3.05)
    assert lab.history.first().history_change_reason == "Re-assayed"
    stale = client.put(_url(baseline_visit, "labs"), body, format="json")
    assert stale.status_code == 409
    no_reason = _lab_body(baseline_visit, results=[corrected | {"version": lab.version}])
    assert client.put(_url(baseline_visit, "labs"), no_reason, format="json").status_code == 400


def test_a_blinded_coordinator_cannot_enter_a_result_that_reveals_the_arm(
    api: Any, randomized: Any, baseline_visit: Visit, coordinator: Any
) -> None:
    from trial.visits.services import visit_complete

    week1 = randomized.visits.get(definition__week=1)
    visit_complete(visit=week1, actual_date=baseline_visit.actual_date, by=coordinator)
    response = api("coordinator").put(_url(week1, "labs"), _lab_body(week1), format="json")
    assert response.status_code == 400 and "results[0].analyte" in response.json()
    assert not LabResult.objects.filter(visit=week1).exists()


def test_an_ill_shaped_lab_row_names_its_field(api: Any, baseline_visit: Visit) -> None:
    body = _lab_body(
        baseline_visit, results=[{"analyte": "tnf", "value": "2.0"}, {"analyte": "hs_crp", "replicate_1": "1"}]
    )
    response = api("coordinator").put(_url(baseline_visit, "labs"), body, format="json")
    assert response.status_code == 400
    assert "results[0].value" in response.json() and "results[1].replicate_1" in response.json()
    assert not LabResult.objects.exists()


def test_a_soft_check_warning_comes_back_and_is_counted(api: Any, baseline_visit: Visit) -> None:
    start = timezone.make_aware(timezone.datetime.combine(baseline_visit.actual_date, timezone.datetime.min.time()))
    start += timedelta(hours=9)
    body = {
        "weight_kg": "80.0",
        "start_time": start.isoformat(),
        "stop_time": (start + timedelta(minutes=30)).isoformat(),
    }
    response = api("coordinator").put(_url(baseline_visit, "infusion"), body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["warnings"] and SoftCheckFiring.objects.filter(check_code="infusion_duration").exists()


def test_it_dates_a_visit_with_its_version(api: Any, randomized: Any, baseline_visit: Visit, coordinator: Any) -> None:
    week1 = randomized.visits.get(definition__week=1)
    url = f"/api/visits/{week1.pk}/date/"
    client = api("coordinator")
    assert client.put(url, {"actual_date": baseline_visit.actual_date.isoformat()}, format="json").status_code == 409
    body = {"actual_date": baseline_visit.actual_date.isoformat(), "version": week1.version}
    response = client.put(url, body, format="json")
    assert response.status_code == 200, response.json()
    week1.refresh_from_db()
    assert week1.status == Visit.Status.DONE and response.json()["version"] == week1.version
    assert week1.history.first().history_user == coordinator
    again = body | {"version": week1.version}
    assert client.put(url, again, format="json").status_code == 400  # a done visit's new date needs a reason
    assert client.put(url, body | {"reason": "Wrong day"}, format="json").status_code == 409


def test_it_records_a_missed_visit(api: Any, randomized: Any, baseline_visit: Visit, coordinator: Any) -> None:
    from trial.protocol.selectors import protocol

    week1 = randomized.visits.get(definition__week=1)
    url = f"/api/visits/{week1.pk}/missed/"
    code = protocol().missed_visit_reasons[0].code
    body = {"missed_reason_code": code, "missed_reason": "Travelling", "version": week1.version}
    response = api("coordinator").post(url, body, format="json")
    if week1.window_start > timezone.localdate():
        # The protocol file refuses a miss before the window opens ([[soft_checks]] missed_before_window).
        assert response.status_code == 400
        assert SoftCheckFiring.objects.filter(check_code="missed_before_window").exists()
        return
    assert response.status_code == 200, response.json()
    week1.refresh_from_db()
    assert week1.status == Visit.Status.MISSED and week1.history.first().history_user == coordinator
    assert api("rater").post(url, body, format="json").status_code == 403


def test_a_missed_visit_past_its_window_is_recorded(api: Any, enrolled_a_month_ago: Any, coordinator: Any) -> None:
    from trial.protocol.selectors import protocol

    week2 = enrolled_a_month_ago.visits.get(definition__week=2)
    code = protocol().missed_visit_reasons[0].code
    body = {"missed_reason_code": code, "missed_reason": "Travelling", "version": week2.version}
    response = api("coordinator").post(f"/api/visits/{week2.pk}/missed/", body, format="json")
    assert response.status_code == 200, response.json()
    week2.refresh_from_db()
    assert week2.status == Visit.Status.MISSED
    assert "Travelling" in week2.history.first().history_change_reason
    assert arm_keys(response.json()) == []


def test_a_type_error_in_a_lab_row_names_the_row(api: Any, baseline_visit: Visit) -> None:
    body = _lab_body(
        baseline_visit, results=[{"analyte": "hs_crp", "value": "2.0"}, {"analyte": "tnf", "replicate_1": "x"}]
    )
    response = api("coordinator").put(_url(baseline_visit, "labs"), body, format="json")
    assert response.status_code == 400 and list(response.json()) == ["results[1].replicate_1"]


def test_a_blinded_coordinator_records_the_post_baseline_sample(
    api: Any, randomized: Any, baseline_visit: Visit, coordinator: Any
) -> None:
    from trial.visits.models import LabSample
    from trial.visits.services import visit_complete

    week1 = randomized.visits.get(definition__week=1)
    visit_complete(visit=week1, actual_date=baseline_visit.actual_date, by=coordinator)
    url = f"/api/visits/{week1.pk}/labs/sample/"
    client = api("coordinator")
    created = client.put(url, {"drawn_at": _morning(week1), "tube_id": "T-17"}, format="json")
    assert created.status_code == 201, created.json()
    sample = LabSample.objects.get(visit=week1)
    assert sample.tube_id == "T-17" and sample.history.first().history_user == coordinator
    assert arm_keys(created.json()) == []
    edit = {"drawn_at": _morning(week1), "tube_id": "T-18", "version": sample.version}
    assert client.put(url, edit, format="json").status_code == 400  # no reason
    changed = client.put(url, edit | {"reason": "Label misread"}, format="json")
    assert changed.status_code == 200 and LabSample.objects.get(visit=week1).tube_id == "T-18"
    assert client.put(url, edit | {"reason": "Again"}, format="json").status_code == 409
    assert api("rater").put(url, edit, format="json").status_code == 403
