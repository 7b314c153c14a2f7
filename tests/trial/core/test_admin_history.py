"""The admin shows every clinical model read-only with its history; nothing can be deleted there."""

import pytest
from django.contrib import admin
from django.urls import reverse

from trial.core.admin import ClinicalRecordAdmin
from trial.core.services import record_save
from trial.core.users import DEMO_PASSWORD

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
