"""The blind around drug accountability: no blinded role reaches a page, an endpoint or an admin list
that shows a vial count, a lot's balance or a reconciliation (a placebo bag draws no vials, so a
vial count names the arm; trial.blinding, ICH E6(R3) 4.2)."""

from __future__ import annotations

from typing import Any

import pytest

from trial.core.models import User

pytestmark = pytest.mark.django_db

BLINDED = ("coordinator", "rater", "investigator", "datamanager", "monitor", "statistician", "admin")


def test_no_blinded_role_sees_a_vial_count_anywhere(login: Any, users: Any, trial_world: Any) -> None:
    prep = trial_world.preparations[0]
    lot = prep.lot or next(p.lot for p in trial_world.preparations if p.lot)
    pages = [
        "/pharmacy/",
        "/pharmacy/?all=1",
        "/pharmacy/lots/",
        f"/pharmacy/preparations/{prep.pk}/",
        f"/pharmacy/preparations/{prep.pk}/label/",
        f"/pharmacy/lots/{lot.pk}/wastage/",
        "/closeout/pharmacy-reconciliation/",
        "/api/pharmacy/queue/",
    ]
    for name in BLINDED:
        client = login(name)
        for url in pages:
            assert client.get(url).status_code == 403, (name, url)
        for url in ("/admin/pharmacy/preparation/", "/admin/pharmacy/druglot/", "/admin/pharmacy/wastage/"):
            assert client.get(url).status_code in (302, 403), (name, url)


def test_a_blinded_superuser_sees_no_pharmacy_admin_either(client: Any, trial_world: Any) -> None:
    root = User.objects.create_superuser("root", "root@example.org", "Root-password-1!")
    client.force_login(root)
    assert "/admin/pharmacy/" not in client.get("/admin/").content.decode()
    assert client.get("/admin/pharmacy/preparation/").status_code == 403


def test_the_pharmacist_sees_the_log_with_vials_on_active_rows_only(login: Any, trial_world: Any) -> None:
    html = login("pharmacist").get("/pharmacy/lots/").content.decode()
    assert 'id="dispensations"' in html and "Reconciliation with the infusions given" in html
