"""The read API and the CSV exports apply the blind for every role."""

import pytest
from django.utils import timezone

from trial.accounts.users import DEMO_PASSWORD, DEMO_USERS
from trial.visits import services as visit_services

pytestmark = pytest.mark.django_db
BLINDED = ["coordinator", "rater", "investigator", "datamanager", "statistician", "admin"]
UNBLINDED = ["pharmacist", "unblinded", "dsmb"]


@pytest.fixture
def trial_with_labs(randomized, coordinator):
    w0 = randomized.visits.get(definition__week=0)
    visit_services.visit_complete(visit=w0, actual_date=w0.scheduled_date, by=coordinator)
    visit_services.lab_record(visit=w0, analyte="hs_crp", value=7.25, sample_time=timezone.now(), by=coordinator)
    w1 = randomized.visits.get(definition__week=1)
    w1.scheduled_date = w0.scheduled_date  # keep "done" dates valid (not in the future)
    visit_services.visit_complete(visit=w1, actual_date=w0.scheduled_date, by=coordinator, reason="")
    visit_services.lab_record(visit=w1, analyte="hs_crp", value=3.125, sample_time=timezone.now(), by=coordinator)
    return randomized


def _login(client, username):
    assert client.login(username=username, password=DEMO_PASSWORD)


@pytest.mark.parametrize("username", BLINDED)
def test_blinded_roles_get_no_arm_field(client, users, trial_with_labs, username):
    _login(client, username)
    listing = client.get("/api/participants/").json()
    assert listing and all("arm" not in row for row in listing)
    detail = client.get(f"/api/participants/{trial_with_labs.participant_id}/").json()
    assert "arm" not in detail
    assert detail["randomization_number"].startswith("R")


@pytest.mark.parametrize("username", UNBLINDED)
def test_unblinded_roles_see_the_arm(client, users, trial_with_labs, username):
    _login(client, username)
    detail = client.get(f"/api/participants/{trial_with_labs.participant_id}/").json()
    assert detail["arm"] == trial_with_labs.allocation.entry.arm


def test_raters_see_baseline_but_not_post_baseline_crp(client, users, trial_with_labs):
    _login(client, "rater")
    labs = client.get(f"/api/participants/{trial_with_labs.participant_id}/labs/").json()
    assert [(lab["week"], lab["analyte"]) for lab in labs] == [(0, "hs_crp")]
    _login(client, "coordinator")
    labs = client.get(f"/api/participants/{trial_with_labs.participant_id}/labs/").json()
    assert [(lab["week"], lab["analyte"]) for lab in labs] == [(0, "hs_crp"), (1, "hs_crp")]


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


def test_rater_export_is_not_possible_and_frames_hide_post_baseline_crp_from_raters(users, trial_with_labs):
    from analysis.frames import labs_long_frame

    assert list(labs_long_frame(user=users["rater"])["week"]) == [0]
    assert sorted(labs_long_frame(user=users["coordinator"])["week"]) == [0, 1]


def test_demo_users_cover_every_role():
    from trial.core.roles import Role

    assert set(DEMO_USERS) == set(Role)
