"""Every audited model reads its history through one manager class per model, built once.

django-simple-history builds a manager class on each read of `instance.history`, and every audited
save reads it; the audit keeps working the same with the class built once (the history rows below).
"""

import pytest
from django.apps import apps

from trial.core.models import AuditHistoryManager, ClinicalRecord
from trial.participants.models import SiteMembership


def _audited_models() -> list[type]:
    return [m for m in apps.get_models() if hasattr(m._meta, "simple_history_manager_attribute")]


def test_every_audited_model_uses_the_audit_history_manager() -> None:
    models = _audited_models()
    assert ClinicalRecord not in models and SiteMembership in models
    for model in models:
        assert issubclass(type(model.history), AuditHistoryManager), model


@pytest.mark.django_db
def test_the_manager_class_is_built_once_and_still_reads_each_records_own_history(make_participant) -> None:
    first, second = make_participant(), make_participant()
    assert type(first.history) is type(second.history)
    assert first.history.count() >= 1
    assert set(first.history.values_list("id", flat=True)) == {first.pk}
