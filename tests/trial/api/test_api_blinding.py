"""The read API and the CSV exports apply the blind for every role."""

import pytest
from django.utils import timezone

from trial.accounts.users import DEMO_PASSWORD, DEMO_USERS
from trial.visits import services as visit_services

pytestmark = pytest.mark.django_db
BLINDED = ["coordinator", "rater", "investigator", "datamanager", "statistician", "admin", "monitor"]
UNBLINDED = ["pharmacist", "unblinded", "dsmb"]


@pytest.fixture
def trial_with_labs(randomized, coordinator, users):
    w0 = randomized.visits.get(definition__week=0)
    visit_services.visit_complete(visit=w0, actual_date=w0.scheduled_date, by=coordinator)
    visit_services.lab_record(visit=w0, analyte="hs_crp", value=7.25, sample_time=timezone.now(), by=coordinator)
    w1 = randomized.visits.get(definition__week=1)
    w1.scheduled_date = w0.scheduled_date  # keep "done" dates valid (not in the future)
    visit_services.visit_complete(visit=w1, actual_date=w0.scheduled_date, by=coordinator, reason="")
    visit_services.lab_sample_record(visit=w1, drawn_at=timezone.now(), tube_id="T-1", by=coordinator)
    visit_services.lab_record(
        visit=w1, analyte="hs_crp", value=3.125, sample_time=timezone.now(), by=users["unblinded"]
    )
    return randomized


def _login(client, username):
    assert client.login(username=username, password=DEMO_PASSWORD)


@pytest.mark.parametrize("username", BLINDED)
def test_blinded_roles_get_no_arm_field(client, users, trial_with_labs, username):
    _login(client, username)
    listing = client.get("/api/participants/").json()["results"]
    assert listing and all("arm" not in row for row in listing)
    detail = client.get(f"/api/participants/{trial_with_labs.participant_id}/").json()
    assert "arm" not in detail
    assert detail["randomization_number"].startswith("R")


@pytest.mark.parametrize("username", UNBLINDED)
def test_unblinded_roles_see_the_arm(client, users, trial_with_labs, username):
    _login(client, username)
    detail = client.get(f"/api/participants/{trial_with_labs.participant_id}/").json()
    assert detail["arm"] == trial_with_labs.allocation.entry.arm


@pytest.mark.parametrize("username", BLINDED)
def test_blinded_roles_see_baseline_but_not_post_baseline_crp(client, users, trial_with_labs, username):
    # A below-median post/baseline ratio picks infliximab: every blinded role, not only the rater.
    _login(client, username)
    labs = client.get(f"/api/participants/{trial_with_labs.participant_id}/labs/").json()
    assert [(lab["week"], lab["analyte"]) for lab in labs] == [(0, "hs_crp")]


@pytest.mark.parametrize("username", UNBLINDED)
def test_unblinded_roles_see_post_baseline_crp(client, users, trial_with_labs, username):
    _login(client, username)
    labs = client.get(f"/api/participants/{trial_with_labs.participant_id}/labs/").json()
    assert [(lab["week"], lab["analyte"]) for lab in labs] == [(0, "hs_crp"), (1, "hs_crp")]


@pytest.mark.parametrize("username", ["datamanager", "statistician", "admin"])
def test_blinded_lab_exports_hold_no_post_baseline_value(client, users, trial_with_labs, username):
    _login(client, username)
    body = client.get("/exports/labs.csv").content.decode()
    assert "7.25" in body and "3.125" not in body


def test_blinded_exports_give_no_list_of_broken_codes(client, users, trial_with_labs):
    from trial.randomization.services import code_break_decide, code_break_request

    cb = code_break_request(participant=trial_with_labs, by=users["investigator"], reason="x", password=DEMO_PASSWORD)
    code_break_decide(code_break=cb, by=users["monitor"], approve=True, note="ok")
    for username in ("datamanager", "statistician", "admin"):
        _login(client, username)
        header = client.get("/exports/participants.csv").content.decode().splitlines()[0].split(",")
        assert "code_broken" not in header, username
    _login(client, "unblinded")
    header = client.get("/exports/participants.csv").content.decode().splitlines()[0].split(",")
    assert "code_broken" in header


@pytest.mark.parametrize("dataset", ["participants", "hamd", "labs", "adverse_events"])
@pytest.mark.parametrize("username", ["datamanager", "statistician", "admin"])
def test_blinded_exports_have_no_arm_column_and_refuse_to_add_one(client, users, trial_with_labs, dataset, username):
    _login(client, username)
    response = client.get(f"/exports/{dataset}.csv")
    assert response.status_code == 200
    header = response.content.decode().splitlines()[0].split(",") if response.content else []
    assert "arm" not in header
    assert client.get(f"/exports/{dataset}.csv?unblinded=1").status_code == 403


def test_the_unblinded_statistician_exports_the_arm_only_when_asked(client, users, trial_with_labs):
    _login(client, "unblinded")
    plain = client.get("/exports/participants.csv").content.decode()
    assert "arm" not in plain.splitlines()[0].split(",")
    unblinded = client.get("/exports/participants.csv?unblinded=1").content.decode()
    assert unblinded.splitlines()[0].split(",")[-1] == "arm"
    assert trial_with_labs.allocation.entry.arm in unblinded


@pytest.mark.parametrize("username", ["coordinator", "rater", "pharmacist", "investigator"])
def test_exports_are_refused_to_roles_without_export_rights(client, users, username):
    _login(client, username)
    assert client.get("/exports/participants.csv").status_code == 403


def test_frames_hide_post_baseline_crp_from_every_blinded_role(users, trial_with_labs):
    from analysis.frames import labs_long_frame

    for name in ("rater", "coordinator", "datamanager", "statistician"):
        assert list(labs_long_frame(user=users[name])["week"]) == [0], name
    assert sorted(labs_long_frame(user=users["unblinded"])["week"]) == [0, 1]


def test_demo_users_cover_every_role():
    from trial.core.roles import Role

    assert set(DEMO_USERS) == set(Role)
