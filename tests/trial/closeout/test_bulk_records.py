"""Records created in bulk (trial.core.services.records_create: the visit schedule) are held to
close-out like any other save: they void the casebook's signature, and a locked database refuses them."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.utils import timezone

from tests.trial.closeout.conftest import sign
from trial.closeout.guards import SIGNATURE_VOID_REASON
from trial.closeout.models import Signature
from trial.core.services import RecordLockedError
from trial.visits.models import Visit
from trial.visits.services import visits_schedule

pytestmark = pytest.mark.django_db


def test_a_bulk_schedule_voids_the_casebook_signature(make_participant: Any, users: Any, coordinator: Any) -> None:
    p = make_participant()
    signature = sign(p, users["investigator"])
    assert signature.voided_at is None
    visits_schedule(participant=p, baseline_date=date.today(), by=coordinator)
    signature = Signature.objects.get(pk=signature.pk)
    assert signature.voided_at is not None and signature.void_reason == SIGNATURE_VOID_REASON


def test_a_locked_casebook_refuses_a_bulk_schedule(make_participant: Any, users: Any, coordinator: Any) -> None:
    from trial.closeout.models import CasebookLock

    p = make_participant()
    # Made directly: the lock service wants a finished casebook, and only the lock matters here.
    CasebookLock.objects.create(participant=p, locked_by=users["datamanager"], locked_at=timezone.now())
    with pytest.raises(RecordLockedError, match="casebook is locked"):
        visits_schedule(participant=p, baseline_date=date.today(), by=coordinator)
    assert not Visit.objects.filter(participant=p).exists()
