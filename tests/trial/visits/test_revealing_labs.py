"""Post-baseline hs-CRP and TNF (and its receptors) reveal the arm: blinded staff record the sample
only; the results are entered or imported by the unblinded statistician and seen by unblinded roles
only (protocol file: reveals_arm_post_baseline; ICH E6(R3) 4.2)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from trial.visits import services
from trial.visits.models import LabResult, LabSample

pytestmark = pytest.mark.django_db


@pytest.fixture
def week2(enrolled_a_month_ago: Any, users: Any) -> Any:
    visit = enrolled_a_month_ago.visits.get(definition__week=2)
    return services.visit_complete(visit=visit, actual_date=visit.scheduled_date, by=users["coordinator"])


def _csv(participant_id: str, tube: str, value: str = "2.345") -> str:
    return (
        "participant_id,visit,tube_id,analyte,value,replicate_1,replicate_2\n"
        f"{participant_id},W2,{tube},hs_crp,{value},,\n"
        f"{participant_id},W2,{tube},tnf,,1.5,1.7\n"
    )


@pytest.mark.parametrize("name", ["coordinator", "investigator"])
def test_blinded_staff_cannot_enter_a_post_baseline_result(week2: Any, users: Any, name: str) -> None:
    with pytest.raises(PermissionDenied):
        services.lab_record(visit=week2, analyte="hs_crp", value=3.1, sample_time=timezone.now(), by=users[name])
    assert not LabResult.objects.exists()


def test_the_coordinators_lab_form_has_no_post_baseline_result_field(login: Any, week2: Any) -> None:
    client = login("coordinator")
    assert "hs_crp_value" not in client.get(f"/visits/{week2.pk}/labs/").content.decode()
    client.post(f"/visits/{week2.pk}/labs/", {"sample_time": f"{week2.actual_date}T08:30", "hs_crp_value": "3.3"})
    assert not LabResult.objects.exists()


def test_blinded_staff_record_the_sample(login: Any, week2: Any) -> None:
    response = login("coordinator").post(
        f"/visits/{week2.pk}/labs/sample/", {"drawn_at": f"{week2.actual_date}T08:40", "tube_id": "EDTA-0042"}
    )
    assert response.status_code == 302
    sample = LabSample.objects.get()
    assert sample.tube_id == "EDTA-0042" and sample.history.count() == 1


def test_the_unblinded_statistician_imports_the_labs_file(
    login: Any, week2: Any, users: Any, enrolled_a_month_ago: Any
) -> None:
    services.lab_sample_record(visit=week2, drawn_at=timezone.now(), tube_id="EDTA-0042", by=users["coordinator"])
    pid = enrolled_a_month_ago.participant_id
    client = login("unblinded")
    upload = SimpleUploadedFile("labs.csv", _csv(pid, "EDTA-0042").encode(), content_type="text/csv")
    assert client.post("/visits/labs/import/", {"file": upload}).status_code == 302
    assert {(lab.analyte, str(lab.value)) for lab in LabResult.objects.all()} == {("hs_crp", "2.345"), ("tnf", "1.600")}
    # Seen by unblinded roles only.
    assert "2.345" in client.get(f"/api/participants/{pid}/labs/").content.decode()
    for name in ("coordinator", "rater", "investigator", "datamanager", "statistician", "admin"):
        assert "2.345" not in login(name).get(f"/api/participants/{pid}/labs/").content.decode(), name


def test_an_import_with_a_wrong_tube_is_refused_whole(week2: Any, users: Any, enrolled_a_month_ago: Any) -> None:
    services.lab_sample_record(visit=week2, drawn_at=timezone.now(), tube_id="EDTA-0042", by=users["coordinator"])
    with pytest.raises(ValidationError, match="row 2: tube EDTA-9999 does not match"):
        services.lab_results_import(
            csv_text=_csv(enrolled_a_month_ago.participant_id, "EDTA-9999"), by=users["unblinded"]
        )
    assert not LabResult.objects.exists()


@pytest.mark.parametrize("name", ["coordinator", "datamanager", "statistician", "pharmacist"])
def test_only_the_unblinded_statistician_imports(login: Any, users: Any, protocol_loaded: Any, name: str) -> None:
    assert login(name).get("/visits/labs/import/").status_code == 403
    with pytest.raises(PermissionDenied):
        services.lab_results_import(csv_text=_csv("01-0001", "T"), by=users[name])
