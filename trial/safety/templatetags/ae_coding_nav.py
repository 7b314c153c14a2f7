"""Nav link to the adverse-event coding page, with the number of terms waiting, for the data manager."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html

from trial import blinding
from trial.access import Capability, can
from trial.safety.selectors import adverse_events_to_code

register = template.Library()


@register.simple_tag(takes_context=True)
def ae_coding_nav(context: Any) -> str:
    user = getattr(context.get("request"), "user", None)
    if not can(user, Capability.CODE_ADVERSE_EVENTS) or not blinding.may_see_adverse_events(user):
        return ""
    waiting = adverse_events_to_code().count()
    return format_html('<a href="{}">AE coding ({})</a>', reverse("safety:coding"), waiting)
