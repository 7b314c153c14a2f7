"""Blank CRFs, printable per visit: the forms a role fills at that visit and nothing else, empty, and
for a post-baseline visit no field for a lab result the role may not see."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from trial.blinding import arm_revealing_analytes
from trial.protocol.selectors import protocol


def sections(html: str) -> set[str]:
    return set(re.findall(r'<section class="blank-crf" id="crf-([a-z0-9]+)"', html))


@pytest.mark.django_db
def test_each_role_gets_the_blank_forms_it_fills(login: Any, randomized: Any) -> None:
    week0 = randomized.visits.get(definition__week=0)
    url = reverse("visits:blank_crf", args=[week0.pk])
    forms0 = set(protocol().visits[[v.week for v in protocol().visits].index(0)].forms)
    expected = {
        "coordinator": forms0 & {"hamd17", "cgis", "labs", "vitals", "infusion"},
        "rater": forms0 & {"hamd17", "cgis"},
        "pharmacist": set(),
    }
    for role, wanted in expected.items():
        response = login(role).get(url)
        assert response.status_code == 200, role
        html = response.content.decode()
        assert sections(html) == wanted, role
        assert "<input" not in html.split('<section class="blank-crf"', 1)[-1] or not wanted  # paper, not inputs
    # The visit page links to it for those who fill forms.
    assert url in login("rater").get(reverse("visits:detail", args=[week0.pk])).content.decode()
    assert url not in login("pharmacist").get(reverse("visits:detail", args=[week0.pk])).content.decode()


@pytest.mark.django_db
def test_a_post_baseline_blank_lab_form_has_no_field_for_a_hidden_result(login: Any, randomized: Any) -> None:
    week2 = randomized.visits.get(definition__week=2)
    labels = {a.code: a.label for a in protocol().labs}
    revealing = [labels[c] for c in arm_revealing_analytes()]
    assert revealing, "the protocol marks analytes that reveal the arm after baseline"
    coordinator = login("coordinator").get(reverse("visits:blank_crf", args=[week2.pk])).content.decode()
    lab_section = re.search(r'id="crf-labs".*?</section>', coordinator, re.S)
    assert lab_section is not None
    for label in revealing:
        assert f"{label} " not in lab_section.group(0) and f">{label}<" not in lab_section.group(0)
    # At baseline the same values are not hidden (they reveal nothing yet), and the form asks for them.
    baseline = login("coordinator").get(
        reverse("visits:blank_crf", args=[randomized.visits.get(definition__week=0).pk])
    )
    baseline_labs = re.search(r'id="crf-labs".*?</section>', baseline.content.decode(), re.S)
    assert baseline_labs is not None and all(label in baseline_labs.group(0) for label in revealing)
    unblinded = login("unblinded").get(reverse("visits:blank_crf", args=[week2.pk])).content.decode()
    assert "crf-labs" not in unblinded  # the unblinded statistician fills no form at a visit
