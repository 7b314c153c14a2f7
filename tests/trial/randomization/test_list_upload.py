"""An externally made list, uploaded as CSV: validated row by row, stored with its hash."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from trial.randomization.generation import CSV_COLUMNS, generate_list, list_random
from trial.randomization.models import ListEvent
from trial.randomization.services import entries_digest, randomization_list_upload

STRATA = ["CRP<2|F", "CRP<2|M", "CRP>=2|F", "CRP>=2|M"]


def csv_text(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    w.writeheader()
    w.writerows(rows)
    return out.getvalue()


def good_rows() -> list[dict[str, Any]]:
    entries = generate_list(
        strata=STRATA, arms=["IFX", "PBO"], ratio=[1, 1], block_sizes=[4], per_stratum=8, rng=list_random()
    )
    return [
        dict(
            zip(
                CSV_COLUMNS,
                (e.stratum, e.sequence, e.block_number, e.block_size, e.arm, e.randomization_number),
                strict=True,
            )
        )
        for e in entries
    ]


@pytest.mark.django_db
def test_it_stores_a_valid_list_with_its_hash(users: dict[str, Any], protocol_loaded: Any) -> None:
    rl = randomization_list_upload(by=users["unblinded"], csv_text=csv_text(good_rows()), name="External")
    assert rl.is_active and rl.source == "uploaded" and rl.entries.count() == 32
    assert entries_digest(rl) == rl.sha256
    assert ListEvent.objects.filter(randomization_list=rl, kind="created").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda rows: rows.append(dict(rows[0], randomization_number="R99999")),
            "row 34: duplicate sequence 1 in stratum",
        ),
        (lambda rows: rows[1].update(arm=rows[0]["arm"]) or rows[2].update(arm=rows[0]["arm"]), "is unbalanced"),
        (
            lambda rows: [r.update(stratum="CRP<2|F") for r in rows if r["stratum"] == "CRP>=2|M"],
            "stratum CRP>=2|M has no rows",
        ),
        (lambda rows: rows[4].update(arm="XYZ"), "row 6: unknown arm code 'XYZ'"),
        (
            lambda rows: rows[5].update(sequence="six"),
            "row 7: sequence, block_number and block_size must be whole numbers",
        ),
        (
            lambda rows: rows[3].update(randomization_number=rows[2]["randomization_number"]),
            "row 5: duplicate randomization number",
        ),
    ],
)
def test_it_refuses_a_bad_list_naming_the_row(
    users: dict[str, Any], protocol_loaded: Any, mutate: Any, message: str
) -> None:
    rows = good_rows()
    mutate(rows)
    with pytest.raises(ValidationError) as exc:
        randomization_list_upload(by=users["unblinded"], csv_text=csv_text(rows), name="Bad")
    assert any(message in m for m in exc.value.messages), exc.value.messages


@pytest.mark.django_db
def test_it_refuses_a_file_without_the_columns(users: dict[str, Any], protocol_loaded: Any) -> None:
    with pytest.raises(ValidationError, match="row 1 \\(header\\): missing column"):
        randomization_list_upload(by=users["unblinded"], csv_text="stratum,arm\nCRP<2|F,IFX\n", name="Bad")


@pytest.mark.django_db
def test_it_shows_upload_errors_on_the_page_and_keeps_the_name(
    client: Any, users: dict[str, Any], protocol_loaded: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    rows = good_rows()
    rows[4]["arm"] = "XYZ"
    client.force_login(users["unblinded"])
    response = client.post(
        "/randomization/lists/upload/",
        {
            "name": "My external list",
            "activate": "on",
            "file": SimpleUploadedFile("list.csv", csv_text(rows).encode(), content_type="text/csv"),
        },
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "row 6: unknown arm code" in body and 'value="My external list"' in body
