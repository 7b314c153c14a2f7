from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError

from trial.safety.models import ProtocolDeviation
from trial.safety.services import adverse_event_record, conmed_record

pytestmark = pytest.mark.django_db
AE = {
    "term": "Headache",
    "onset_date": date.today() - timedelta(days=3),
    "severity": "mild",
    "relatedness": "possible",
    "outcome": "recovering",
    "ongoing": True,
}


def test_a_serious_event_needs_a_criterion_and_a_criterion_needs_serious(randomized, coordinator):
    with pytest.raises(ValidationError, match="at least one seriousness criterion"):
        adverse_event_record(participant=randomized, data=AE | {"serious": True}, by=coordinator)
    with pytest.raises(ValidationError, match="mark the event as serious"):
        adverse_event_record(participant=randomized, data=AE | {"sae_hospitalization": True}, by=coordinator)
    ae = adverse_event_record(
        participant=randomized, data=AE | {"serious": True, "sae_hospitalization": True}, by=coordinator
    )
    assert ae.serious


def test_an_event_cannot_end_before_it_starts(randomized, coordinator):
    data = AE | {"ongoing": False, "end_date": AE["onset_date"] - timedelta(days=1), "outcome": "recovered"}
    with pytest.raises(ValidationError) as exc:
        adverse_event_record(participant=randomized, data=data, by=coordinator)
    assert "end_date" in exc.value.message_dict


@pytest.mark.parametrize(
    ("drug_class", "dose", "prohibited"),
    [
        ("nsaid", 400, True),
        ("steroid", 5, True),
        ("aspirin", 81, False),
        ("aspirin", 325, True),
        ("antidepressant", 20, False),
    ],
)
def test_prohibited_medication_raises_a_protocol_deviation(randomized, coordinator, drug_class, dose, prohibited):
    med = conmed_record(
        participant=randomized,
        data={"name": "X", "drug_class": drug_class, "dose": dose, "dose_unit": "mg", "start_date": date.today()},
        by=coordinator,
    )
    assert med.prohibited is prohibited
    deviations = ProtocolDeviation.objects.filter(participant=randomized, category="prohibited_medication")
    assert deviations.count() == (1 if prohibited else 0)
