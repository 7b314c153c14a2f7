"""The second check of a prepared bag is signed by a different pharmacist with their own user name and
password (21 CFR 11.200(a)(1): two distinct individuals, both identification components). A wrong
password is a failed sign-in in the access log, like a failed login (21 CFR 11.10(e), 11.300(d))."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from trial.accounts.users import DEMO_PASSWORD
from trial.core.models import AccessEvent
from trial.pharmacy.models import Preparation
from trial.pharmacy.services import SECOND_CHECK_OWN, second_check_sign

pytestmark = pytest.mark.django_db


def _w2(randomized: Any) -> Any:
    return randomized.visits.get(definition__code="W2")


def _post(client: Any, visit: Any, lot: Any, **change: str) -> Any:
    data = {
        "weight_kg": "82",
        "saline_lot": "NS-42",
        "lot": str(lot.pk),
        "second_checker": "pharmacist2",
        "second_checker_password": DEMO_PASSWORD,
        "checked": "on",
    } | change
    return client.post(f"/pharmacy/visits/{visit.pk}/prepare/", data)


def test_it_records_the_second_pharmacist_who_signed(
    client: Any, users: Any, randomized: Any, pharmacy_lot: Any
) -> None:
    client.force_login(users["pharmacist"])
    response = _post(client, _w2(randomized), pharmacy_lot)
    assert response.status_code == 302
    prep = Preparation.objects.get(visit=_w2(randomized))
    assert prep.second_checked_by == users["pharmacist2"] and prep.prepared_by == users["pharmacist"]
    assert prep.second_checker == "pharmacist2"


def test_it_refuses_the_preparer_s_own_name_and_keeps_the_input(
    client: Any, users: Any, randomized: Any, pharmacy_lot: Any
) -> None:
    client.force_login(users["pharmacist"])
    response = _post(client, _w2(randomized), pharmacy_lot, second_checker="pharmacist")
    html = response.content.decode()
    assert response.status_code == 200 and not Preparation.objects.exists()
    assert "You prepared this bag" in html
    assert 'value="NS-42"' in html and 'value="pharmacist"' in html
    assert DEMO_PASSWORD not in html


def test_it_refuses_a_wrong_password_logs_it_and_never_shows_the_password(
    client: Any, users: Any, randomized: Any, pharmacy_lot: Any
) -> None:
    client.force_login(users["pharmacist"])
    response = _post(client, _w2(randomized), pharmacy_lot, second_checker_password="not-the-password")
    html = response.content.decode()
    assert response.status_code == 200 and not Preparation.objects.exists()
    assert "user name or password is not correct" in html
    assert 'value="pharmacist2"' in html and 'value="NS-42"' in html and "not-the-password" not in html
    failed = AccessEvent.objects.get(kind=AccessEvent.Kind.LOGIN_FAILED)
    assert failed.username == "pharmacist2" and "second check" in failed.detail


def test_an_unknown_user_name_is_a_failed_sign_in_too(users: Any) -> None:
    with pytest.raises(ValidationError, match="not correct"):
        second_check_sign(by=users["pharmacist"], username="nobody", password="x")
    assert AccessEvent.objects.filter(kind=AccessEvent.Kind.LOGIN_FAILED, username="nobody").exists()


def test_the_own_name_is_refused_in_any_case_and_with_the_right_password(users: Any) -> None:
    for typed in ("pharmacist", " PHARMACIST "):
        with pytest.raises(ValidationError) as refused:
            second_check_sign(by=users["pharmacist"], username=typed, password=DEMO_PASSWORD)
        assert refused.value.message_dict == {"second_checker": [SECOND_CHECK_OWN]}


def test_a_colleague_who_is_not_a_pharmacist_cannot_sign_the_check(users: Any) -> None:
    with pytest.raises(ValidationError, match="not a pharmacist"):
        second_check_sign(by=users["pharmacist"], username="coordinator", password=DEMO_PASSWORD)
    with pytest.raises(ValidationError, match="not a pharmacist"):
        # An unblinded statistician may see arms, but does not prepare infusions.
        second_check_sign(by=users["pharmacist"], username="unblinded", password=DEMO_PASSWORD)


def test_a_signature_made_for_another_preparer_is_refused(users: Any, randomized: Any, pharmacy_lot: Any) -> None:
    from trial.pharmacy.services import preparation_create

    # pharmacist2 prepares with a check pharmacist2 "signed" for pharmacist: not theirs to use.
    signed_for_other = second_check_sign(by=users["pharmacist"], username="pharmacist2", password=DEMO_PASSWORD)
    with pytest.raises(ValidationError) as refused:
        preparation_create(
            visit=_w2(randomized),
            by=users["pharmacist2"],
            weight_kg=82,
            saline_lot="NS",
            second_check=signed_for_other,
            lot=pharmacy_lot,
        )
    assert refused.value.message_dict == {"second_checker": [SECOND_CHECK_OWN]}


def test_repeated_failures_lock_the_second_check_like_the_login(
    client: Any, users: Any, randomized: Any, pharmacy_lot: Any, settings: Any
) -> None:
    settings.AXES_ENABLED = True  # the test settings switch django-axes off; the lockout is what is tested
    client.force_login(users["pharmacist"])
    statuses = [
        _post(client, _w2(randomized), pharmacy_lot, second_checker_password="wrong").status_code for _ in range(5)
    ]
    assert statuses[-1] == 429  # the fifth failure locks, as at the login page
    response = _post(client, _w2(randomized), pharmacy_lot)  # now the right password
    assert not Preparation.objects.exists()
    assert response.status_code == 200 and "locked after repeated failures" in response.content.decode()
