from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError

from trial.participants.models import Participant
from trial.participants.services import consent_record, end_of_study_record

pytestmark = pytest.mark.django_db


def test_an_eligible_person_is_eligible_with_no_failed_criteria(make_participant):
    p = make_participant()
    assert p.status == Participant.Status.ELIGIBLE
    assert p.screening.eligible and p.screening.failed_criteria == []


@pytest.mark.parametrize(
    ("overrides", "ok", "criterion"),
    [
        ({"age": 25}, True, "age_25_60"),
        ({"age": 24}, False, "age_25_60"),
        ({"age": 60}, True, "age_25_60"),
        ({"age": 61}, False, "age_25_60"),
        ({"qids_sr": 14}, True, "qids_sr_ge_14"),
        ({"qids_sr": 13}, False, "qids_sr_ge_14"),
        ({"mgh_s": 2.0}, True, "mgh_s_ge_2"),
        ({"mgh_s": 1.9}, False, "mgh_s_ge_2"),
        ({"hamd_item3": 2}, True, "active_suicidal_ideation"),
        ({"hamd_item3": 3}, False, "active_suicidal_ideation"),
        ({"mmse": 28}, True, "mmse_lt_28"),
        ({"mmse": 27}, False, "mmse_lt_28"),
        ({"tuberculosis_risk": True}, False, "tuberculosis_risk"),
        ({"major_depression_scid": False}, False, "major_depression_scid"),
    ],
)
def test_each_eligibility_criterion_at_its_cut(make_participant, overrides, ok, criterion):
    age = overrides.pop("age", 40)
    p = make_participant(age=age, consent=False, **overrides)
    assert p.screening.eligible is ok
    assert (criterion in p.screening.failed_criteria) is (not ok)
    assert p.status == (Participant.Status.ELIGIBLE if ok else Participant.Status.SCREEN_FAILED)


def test_an_unanswered_criterion_is_refused_by_name(make_participant):
    with pytest.raises(ValidationError) as exc:
        make_participant(consent=False, cancer_history=None)
    assert "cancer_history" in exc.value.message_dict


def test_live_eligibility_lists_unanswered_criteria():
    from trial.participants.eligibility import evaluate
    from trial.protocol.selectors import protocol

    result = evaluate({"qids_sr": 20}, protocol())
    assert not result.eligible
    assert "cancer_history" in result.missing and "qids_sr_ge_14" not in result.missing


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [
        ("qids_sr", 27, 28),
        ("mmse", 30, 31),
        ("hamd_item3", 4, 5),
        ("mgh_s", 30, 30.5),
        ("screening_crp_mg_l", 500, 500.5),
    ],
)
def test_screening_measures_ranges(make_participant, field, good, bad):
    make_participant(consent=False, **{field: good})
    with pytest.raises(ValidationError) as exc:
        make_participant(consent=False, **{field: bad})
    assert field in exc.value.message_dict


def test_screening_in_the_future_is_refused(make_participant):
    with pytest.raises(ValidationError) as exc:
        make_participant(screened_days_ago=-1)
    assert "screening_date" in exc.value.message_dict


def test_consent_must_be_signed(make_participant, coordinator):
    p = make_participant(consent=False)
    with pytest.raises(ValidationError) as exc:
        consent_record(participant=p, consent_date=date.today(), by=coordinator, participant_signed=False)
    assert "participant_signed" in exc.value.message_dict


def test_end_of_study_reason_must_be_a_protocol_reason(randomized, coordinator):
    with pytest.raises(ValidationError) as exc:
        end_of_study_record(
            participant=randomized, outcome="withdrawn", end_date=date.today(), reason="bored", by=coordinator
        )
    assert "reason" in exc.value.message_dict
    end_of_study_record(
        participant=randomized, outcome="withdrawn", end_date=date.today(), reason="lack of efficacy", by=coordinator
    )
    randomized.refresh_from_db()
    assert randomized.status == Participant.Status.WITHDRAWN


def test_end_of_study_cannot_be_in_the_future(randomized, coordinator):
    with pytest.raises(ValidationError) as exc:
        end_of_study_record(
            participant=randomized,
            outcome="completed",
            end_date=date.today() + timedelta(days=1),
            reason="completed",
            by=coordinator,
        )
    assert "end_date" in exc.value.message_dict


def test_a_consent_can_be_corrected_with_a_reason(make_participant, coordinator, users):
    from trial.core.services import record_save

    p = make_participant()
    consent = p.consents.get()
    assert consent.version == 1 and consent.form_version == "v1.0"
    consent.copy_given = False
    record_save(consent, by=users["investigator"], reason="Copy was not handed over; corrected")
    consent.refresh_from_db()
    assert consent.version == 2 and consent.form_version == "v1.0"


def test_numbering_keeps_counting_past_9999(site, coordinator):
    from datetime import date

    from trial.core.services import record_save
    from trial.participants.services import _next_number

    for n in ("9998", "9999", "10000"):
        record_save(
            Participant(
                screening_number=f"S{n}", participant_id=f"01-{n}", site=site, sex="F", date_of_birth=date(1980, 1, 1)
            ),
            by=coordinator,
        )
    assert _next_number("01-", "participant_id") == "01-10001"
    assert _next_number("S", "screening_number") == "S10001"
