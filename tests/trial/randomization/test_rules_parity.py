"""Each code-break rule gives the same message on the same field from the model and from the form."""

from __future__ import annotations

from typing import Any

import pytest

from tests.trial.rule_parity import assert_same_rule
from trial.randomization.forms import CodeBreakRequestForm
from trial.randomization.models import CodeBreak

REQUEST = {"reason": "Anaphylaxis during the week 2 infusion", "immediate": False, "justification": ""}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({}, None, None),
        ({"immediate": True, "justification": "Treating team needs the arm tonight"}, None, None),
        ({"reason": "  "}, "reason", "Give the clinical reason for breaking the code."),
        (
            {"immediate": True},
            "justification",
            "An immediate break needs a justification (why it cannot wait for approval).",
        ),
    ],
    ids=["standard", "immediate", "no reason", "immediate, no justification"],
)
def test_code_break_rules(change: dict[str, Any], field: str | None, message: str | None) -> None:
    data = REQUEST | change
    assert_same_rule(form=CodeBreakRequestForm(data=data), model=CodeBreak, data=data, field=field, message=message)
