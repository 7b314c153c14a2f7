"""Every role x every randomization/pharmacy view, with the expected status code of a GET.

Written out literally (not derived from trial.access), so a change of who may open a
page is a visible change here. A new view in these namespaces fails the completeness test until it
is added to the matrix.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import get_resolver, reverse

ROLES = [
    "coordinator",
    "rater",
    "pharmacist",
    "investigator",
    "datamanager",
    "statistician",
    "unblinded",
    "dsmb",
    "admin",
    "monitor",
]
NAMESPACES = ("randomization", "pharmacy", "randomization-api", "pharmacy-api")


def only(codes: dict[str, int], default: int = 403) -> dict[str, int]:
    return {r: codes.get(r, default) for r in ROLES}


ALLOC = {
    "coordinator": 200,
    "pharmacist": 200,
    "investigator": 200,
    "datamanager": 200,
    "statistician": 200,
    "unblinded": 200,
    "dsmb": 200,
    "monitor": 200,
}
PHARMACY_READ = {"pharmacist": 200, "unblinded": 200, "dsmb": 200}
CB = {"investigator": 200, "unblinded": 200, "dsmb": 200, "monitor": 200}
# The world's break was requested by a second investigator: the demo investigator may not open it.
CB_DETAIL = CB | {"investigator": 404}
DECIDERS = {"unblinded": 405, "dsmb": 405, "monitor": 405}

# url name -> (kwargs key, expected status per role, status for an anonymous visitor). Anonymous API
# calls get 403, not 401: SessionAuthentication comes first in REST_FRAMEWORK settings.
MATRIX: dict[str, tuple[str | None, dict[str, int], int]] = {
    "randomization:allocations": (None, only(ALLOC), 302),
    # The one randomize page (enrolment: trial.workspace), under the participant's id.
    "participants:randomize": ("unrandomized_id", only({"coordinator": 200, "investigator": 200}), 302),
    "randomization:code_break_request": ("participant", only({"investigator": 200}), 302),
    "randomization:lists": (None, only({"unblinded": 200}), 302),
    "randomization:list_generate": (None, only({"unblinded": 200}), 302),
    "randomization:list_upload": (None, only({"unblinded": 200}), 302),
    "randomization:list_detail": ("list", only({"unblinded": 200}), 302),
    "randomization:list_activate": ("list", only({"unblinded": 405}), 302),
    "randomization:code_breaks": (None, only(CB), 302),
    "randomization:code_break_detail": ("code_break", only(CB_DETAIL), 302),
    "randomization:code_break_decide": ("code_break", only(DECIDERS), 302),
    "randomization:code_break_review": ("code_break", only(DECIDERS), 302),
    "pharmacy:queue": (None, only(PHARMACY_READ), 302),
    "pharmacy:prepare": ("visit", only({"pharmacist": 200}), 302),
    "pharmacy:preparation": ("preparation", only(PHARMACY_READ), 302),
    "pharmacy:label": ("preparation", only(PHARMACY_READ), 302),
    "pharmacy:dispense": ("preparation", only({"pharmacist": 405}), 302),
    "pharmacy:waste": ("preparation", only({"pharmacist": 405}), 302),
    "pharmacy:lots": (None, only(PHARMACY_READ), 302),
    "pharmacy:lot_receive": (None, only({"pharmacist": 200}), 302),
    "pharmacy:wastage": ("lot", only({"pharmacist": 200}), 302),
    "randomization-api:allocations": (None, only(ALLOC), 403),
    "randomization-api:randomize": ("unrandomized", only({"coordinator": 405, "investigator": 405}), 403),
    "pharmacy-api:queue": (None, only(PHARMACY_READ), 403),
}


def url_names() -> set[str]:
    names = set()
    resolver = get_resolver()
    for ns in NAMESPACES:
        _, sub = resolver.namespace_dict[ns]
        names |= {f"{ns}:{n}" for n in sub.reverse_dict if isinstance(n, str)}
    return names | {"participants:randomize"}


@pytest.mark.django_db
def test_the_matrix_covers_every_view_of_randomization_and_pharmacy() -> None:
    assert url_names() == set(MATRIX)


def url_for(name: str, key: str | None, w: Any) -> str:
    if key is None:
        return reverse(name)
    kwarg_value = {
        "unrandomized": ("participant_pk", w.unrandomized.pk),
        "unrandomized_id": ("participant_id", w.unrandomized.participant_id),
        "participant": ("participant_pk", w.participants[1].pk),
        "list": ("pk", w.participants[0].allocation.entry.randomization_list_id),
        "code_break": ("pk", w.code_break.pk),
        "visit": ("visit_pk", w.participants[0].visits.get(definition__code="W6").pk),
        "preparation": ("pk", w.preparations[1].pk),
        "lot": ("pk", w.preparations[0].lot_id or w.preparations[1].lot_id or w.preparations[2].lot_id),
    }[key]
    return reverse(name, kwargs={kwarg_value[0]: kwarg_value[1]})


@pytest.mark.django_db
def test_every_role_gets_the_expected_status_on_every_view(client: Any, users: Any, trial_world: Any) -> None:
    wrong = []
    for name, (key, expected, anonymous) in MATRIX.items():
        url = url_for(name, key, trial_world)
        client.logout()
        if (got := client.get(url).status_code) != anonymous:
            wrong.append(f"anonymous {name} {url}: {got}, expected {anonymous}")
        for role in ROLES:
            client.force_login(users[role])
            if (got := client.get(url).status_code) != expected[role]:
                wrong.append(f"{role} {name} {url}: {got}, expected {expected[role]}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.django_db
def test_nav_links_appear_only_for_roles_that_may_open_them(client: Any, users: Any, protocol_loaded: Any) -> None:
    for role in ROLES:
        client.force_login(users[role])
        page = client.get("/").content.decode()
        assert ('href="/pharmacy/"' in page) == (role in PHARMACY_READ), role
        assert ('href="/randomization/lists/"' in page) == (role == "unblinded"), role
        assert ('href="/randomization/"' in page) == (role in ALLOC), role
