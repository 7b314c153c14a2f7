"""The lock state for the banner of every page (database, and the casebook the page is about)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from trial.closeout import selectors
from trial.closeout.models import Signature


def closeout(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    banner: dict[str, Any] = {
        "database": selectors.database_lock_live(),
        "unblinding": selectors.study_unblinding(),
        "casebook": None,
        "signature": None,
    }
    match = getattr(request, "resolver_match", None)
    kwargs = match.kwargs if match is not None else {}
    participant_id = _participant_pk(kwargs, match.namespace if match is not None else "")
    if participant_id is not None:
        banner["casebook"] = selectors.casebook_lock_live(participant_id)
        # 21 CFR 11.50: the signature's manifestation shows wherever the signed record is shown.
        banner["signature"] = Signature.objects.filter(participant_id=participant_id).first()
    return {"closeout_banner": banner}


def _participant_pk(kwargs: dict[str, Any], namespace: str) -> int | None:
    from trial.participants.models import Participant
    from trial.visits.models import Visit

    if "participant_id" in kwargs:
        return Participant.objects.filter(participant_id=kwargs["participant_id"]).values_list("pk", flat=True).first()
    if namespace == "visits" and "pk" in kwargs:
        return Visit.objects.filter(pk=kwargs["pk"]).values_list("participant_id", flat=True).first()
    return None
