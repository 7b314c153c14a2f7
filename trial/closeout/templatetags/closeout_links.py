"""Close-out links on a participant's page, shown only to the roles that may use them (trial.access)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from trial.access import Capability, can

register = template.Library()


@register.simple_tag(takes_context=True)
def closeout_links(context: Any, participant: Any) -> str:
    request = context.get("request")
    user = getattr(request, "user", None)
    kwargs = {"participant_id": participant.participant_id}
    links = []
    if can(user, Capability.REVIEW_CRFS):
        links.append((reverse("closeout:review", kwargs=kwargs), "Review casebook (monitor)"))
    if can(user, Capability.SIGN_CASEBOOKS):
        links.append((reverse("closeout:sign", kwargs=kwargs), "Sign casebook"))
    if not links:
        return ""
    return format_html(
        '<p class="closeout-links">Close-out: {}</p>', format_html_join(" · ", '<a href="{}">{}</a>', links)
    )
