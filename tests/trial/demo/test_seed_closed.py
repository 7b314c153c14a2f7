"""seed_demo --closed: a finished trial closed through the services, ready for the final analysis."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_it_closes_the_seeded_trial_through_the_services(users: dict[str, Any]) -> None:
    from analysis.models import AnalysisRun
    from analysis.services import analysis_kinds_allowed
    from trial import blinding
    from trial.closeout.models import CasebookLock, Signature
    from trial.closeout.selectors import database_locked
    from trial.participants.models import Participant

    out = StringIO()
    call_command("seed_demo", participants=6, seed=11, closed=True, stdout=out)
    assert "database locked and formally unblinded" in out.getvalue()
    participants = Participant.objects.all()
    assert participants.exists()
    assert {p.status for p in participants} <= {"completed", "withdrawn", "screen_failed"}
    assert CasebookLock.objects.filter(unlocked_at__isnull=True).count() == participants.count()
    assert Signature.objects.filter(voided_at__isnull=True).count() == participants.count()
    lock = database_locked()
    assert lock is not None and lock.data_manager_approved_by != lock.statistician_approved_by
    assert blinding.study_is_unblinded()
    assert AnalysisRun.Kind.MMRM_FINAL in analysis_kinds_allowed(users["unblinded"])
