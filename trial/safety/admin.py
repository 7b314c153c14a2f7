from trial.core.admin import register_clinical
from trial.safety.models import AdverseEvent, ConcomitantMedication, ProtocolDeviation

register_clinical(
    AdverseEvent,
    list_display=("participant", "term", "onset_date", "severity", "serious", "relatedness", "outcome"),
    list_filter=("serious", "severity", "relatedness"),
    search_fields=("term", "participant__participant_id"),
)
register_clinical(
    ConcomitantMedication,
    list_display=("participant", "name", "drug_class", "dose", "prohibited"),
    list_filter=("prohibited", "drug_class"),
)
register_clinical(
    ProtocolDeviation, list_display=("participant", "deviation_date", "category", "major"), list_filter=("category",)
)
