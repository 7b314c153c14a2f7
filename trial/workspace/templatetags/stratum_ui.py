"""Template helpers for the site's layout: which links a user is offered, and how a date reads.

Links are offered by the same capabilities the views enforce (trial.access), so a role is never
shown a page that answers it with 403.
"""

from __future__ import annotations

from typing import Any

from django import template

from trial.access import Capability
from trial.access import can as access_can

register = template.Library()


@register.filter(name="can")
def can(user: Any, capability: str) -> bool:
    """`{% if user|can:"enter_data" %}`: an unknown capability name is an error, not a silent False."""
    return access_can(user, Capability(capability))


@register.simple_tag(takes_context=True)
def code_break_candidates(context: Any) -> list[str]:
    """Participants the Code breaks page offers a request for: only for those who may request one."""
    from trial.workspace.selectors import code_break_candidates as candidates

    request = context.get("request")
    return candidates(user=getattr(request, "user", None))
