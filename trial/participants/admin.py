from trial.core.admin import register_clinical
from trial.participants.models import Consent, EndOfStudy, Participant, Screening

register_clinical(
    Participant,
    list_display=("participant_id", "screening_number", "site", "sex", "status", "voided_at"),
    list_filter=("status", "site", "sex"),
    search_fields=("participant_id", "screening_number"),
)
register_clinical(Consent, list_display=("participant", "form_version", "consent_date", "taken_by"))
register_clinical(
    Screening, list_display=("participant", "screening_date", "eligible", "failed_criteria"), list_filter=("eligible",)
)
register_clinical(
    EndOfStudy, list_display=("participant", "outcome", "end_date", "reason"), list_filter=("outcome", "reason")
)
