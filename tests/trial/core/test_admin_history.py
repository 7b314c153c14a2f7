"""The admin shows every clinical model read-only with its history; nothing can be deleted there."""

import pytest
from django.contrib import admin
from django.urls import reverse

from trial.accounts.users import DEMO_PASSWORD
from trial.core.admin import ClinicalRecordAdmin
from trial.core.services import record_save

pytestmark = pytest.mark.django_db


def test_every_clinical_model_is_registered_with_history():
    from django.apps import apps

    from trial.core.models import ClinicalRecord

    clinical = [m for m in apps.get_models() if issubclass(m, ClinicalRecord)]
    assert clinical
    for model in clinical:
        assert model in admin.site._registry, f"{model.__name__} is not in the admin"
        assert hasattr(admin.site._registry[model], "history_view"), f"{model.__name__} admin shows no history"


def test_the_history_page_shows_who_why_and_the_change(client, make_participant, users):
    p = make_participant()
    scr = p.screening
    scr.qids_sr = 21
    record_save(scr, by=users["investigator"], reason="Corrected from source document")
    assert client.login(username="datamanager", password=DEMO_PASSWORD)
    page = client.get(reverse("admin:participants_screening_history", args=[scr.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Corrected from source document" in body
    assert "investigator" in body


def test_clinical_admin_is_read_only_and_has_no_delete(client, make_participant, users):
    p = make_participant()
    assert client.login(username="coordinator", password=DEMO_PASSWORD)
    change = client.get(reverse("admin:participants_participant_change", args=[p.pk]))
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()
    assert (
        client.post(reverse("admin:participants_participant_delete", args=[p.pk]), {"post": "yes"}).status_code == 403
    )
    assert type(p).objects.filter(pk=p.pk).exists()
    for model_admin in admin.site._registry.values():
        if isinstance(model_admin, ClinicalRecordAdmin):
            assert model_admin.get_actions(None) == {}


def test_sqlite_is_configured_for_concurrent_writers():
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite configuration test; this run uses " + connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] >= 5000
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_raters_cannot_open_the_history_of_a_post_baseline_inflammatory_lab(client, randomized, coordinator, users):
    from django.utils import timezone

    from trial.visits import services as visit_services

    w0 = randomized.visits.get(definition__week=0)
    visit_services.visit_complete(visit=w0, actual_date=w0.scheduled_date, by=coordinator)
    baseline = visit_services.lab_record(
        visit=w0, analyte="hs_crp", value=4.5, sample_time=timezone.now(), by=coordinator
    )
    w1 = randomized.visits.get(definition__week=1)
    visit_services.visit_complete(visit=w1, actual_date=w0.scheduled_date, by=coordinator)
    unblinded = users["unblinded"]
    lab = visit_services.lab_record(visit=w1, analyte="hs_crp", value=6.38, sample_time=timezone.now(), by=unblinded)
    lab = visit_services.lab_record(
        visit=w1,
        analyte="hs_crp",
        value=9.87,
        sample_time=timezone.now(),
        by=unblinded,
        reason="typo",
        version=lab.version,
    )
    assert client.login(username="rater", password=DEMO_PASSWORD)
    for url in (
        reverse("admin:visits_labresult_history", args=[lab.pk]),
        reverse("admin:visits_labresult_simple_history", args=[lab.pk, lab.history.first().history_id]),
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "9.87" not in response.content.decode()
    assert client.get(reverse("admin:visits_labresult_history", args=[baseline.pk])).status_code == 200
    assert client.login(username="coordinator", password=DEMO_PASSWORD)
    assert client.get(reverse("admin:visits_labresult_history", args=[lab.pk])).status_code == 404
    assert client.login(username="unblinded", password=DEMO_PASSWORD)
    assert "9.870" in client.get(reverse("admin:visits_labresult_history", args=[lab.pk])).content.decode()
