"""The randomization list upload is capped in size and refuses numbers that are not plain labels."""

from __future__ import annotations

import csv
import io
import random
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from trial.randomization.forms import LIST_UPLOAD_MAX_BYTES
from trial.randomization.generation import CSV_COLUMNS, ListFileError, generate_list, parse_list_csv

STRATA = ["A", "B"]


def _csv(numbers: dict[int, str] | None = None) -> str:
    entries = generate_list(
        strata=STRATA, arms=["IFX", "PBO"], ratio=[1, 1], block_sizes=[4], per_stratum=4, rng=random.Random(1)
    )
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(CSV_COLUMNS)
    for i, e in enumerate(entries):
        number = (numbers or {}).get(i, e.randomization_number)
        w.writerow([e.stratum, e.sequence, e.block_number, e.block_size, e.arm, number])
    return out.getvalue()


def _parse(text: str) -> Any:
    return parse_list_csv(text, strata=STRATA, arms=["IFX", "PBO"], ratio=[1, 1])


@pytest.mark.parametrize("number", ["=1+1", "+R0001", "-R0001", "@SUM(A1)", "R 0001", "R0001;", "R" * 21])
def test_it_refuses_a_randomization_number_that_is_not_a_plain_label(number: str) -> None:
    with pytest.raises(ListFileError) as refused:
        _parse(_csv({0: number}))
    assert any("row 2: randomization_number" in p and "not letters and digits" in p for p in refused.value.problems)


def test_it_accepts_generated_and_hyphenated_numbers() -> None:
    assert len(_parse(_csv({0: "SITE1-0001", 1: "R00042"}))) == 8


@pytest.mark.django_db
def test_the_upload_page_refuses_a_file_over_the_cap(login: Any, protocol_loaded: Any) -> None:
    big = SimpleUploadedFile("list.csv", b"x" * (LIST_UPLOAD_MAX_BYTES + 1), content_type="text/csv")
    response = login("unblinded").post(
        reverse("randomization:list_upload"), {"name": "Too big", "file": big, "activate": "on"}
    )
    assert response.status_code == 200
    assert "larger than 2 MB" in response.content.decode()
    from trial.randomization.models import RandomizationList

    assert not RandomizationList.objects.exists()
