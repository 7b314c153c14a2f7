"""Old versions in the admin are for reading: restoring one would change a clinical record with no
reason for change, no version check, no edit checks and the wrong author (21 CFR 11.10(e))."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import reverse

from trial.core.admin import ClinicalRecordAdmin
from trial.visits.models import HamD17

pytestmark = pytest.mark.django_db

ITEMS = {f"item_{i}": 1 for i in range(1, 18)}


@pytest.fixture
def hamd_twice(baseline_visit: Any, users: Any) -> HamD17:
    from trial.visits.services import hamd_record

    first = hamd_record(visit=baseline_visit, items=ITEMS, by=users["rater"])
    return hamd_record(
        visit=baseline_visit,
        items=ITEMS | {"item_1": 4},
        by=users["rater"],
        reason="Re-scored from the source",
        version=first.version,
    )


@pytest.mark.parametrize("username", ["rater", "coordinator", "investigator", "datamanager", "admin"])
def test_it_refuses_to_restore_an_old_version_of_the_primary_endpoint(
    client: Any, users: Any, hamd_twice: HamD17, username: str
) -> None:
    oldest = hamd_twice.history.order_by("history_id").first()
    url = reverse("admin:visits_hamd17_simple_history", args=[hamd_twice.pk, oldest.history_id])
    client.force_login(users[username])
    response = client.post(url, {"_save": "Save"})
    assert response.status_code in (403, 404)
    hamd_twice.refresh_from_db()
    assert hamd_twice.item_1 == 4 and hamd_twice.version == 2
    assert hamd_twice.history.count() == 2


def test_the_old_version_is_still_readable(client: Any, users: Any, hamd_twice: HamD17) -> None:
    oldest = hamd_twice.history.order_by("history_id").first()
    client.force_login(users["datamanager"])
    page = client.get(reverse("admin:visits_hamd17_simple_history", args=[hamd_twice.pk, oldest.history_id]))
    assert page.status_code == 200 and "Revert" not in page.content.decode()


def test_every_admin_with_a_history_form_refuses_its_post(users: Any) -> None:
    """Walks every registered admin: any that can show an old version must refuse to save one,
    before it even looks the version up."""
    walked = 0
    for model, model_admin in admin.site._registry.items():
        if not hasattr(model_admin, "history_form_view"):
            continue
        walked += 1
        assert isinstance(model_admin, ClinicalRecordAdmin), f"{model.__name__}: history admin without the guard"
        for method in ("post", "put", "patch", "delete"):
            request = getattr(RequestFactory(), method)("/", {"_save": "Save"})
            request.user = users["admin"]
            with pytest.raises(PermissionDenied):
                model_admin.history_form_view(request, "1", "1")
        assert model_admin.revert_disabled(request) is True
    assert walked >= 10  # every clinical model
