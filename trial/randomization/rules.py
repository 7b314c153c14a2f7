"""Rules of the randomization records applied by both the model's clean() and the form (trial.core.validators)."""

from __future__ import annotations

from trial.core.validators import Required, Rule


def code_break_rules() -> list[Rule]:
    # Blinding: a code break is recorded with its clinical reason; an immediate one also says why
    # it could not wait for a second person's approval (ICH E6 4.7: document premature unblinding).
    return [
        Required("reason", "Give the clinical reason for breaking the code."),
        Required(
            "justification",
            "An immediate break needs a justification (why it cannot wait for approval).",
            when={"immediate": True},
        ),
    ]
