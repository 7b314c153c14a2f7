# Read-only with history, like every clinical record. No role has model permissions on this app
# (trial.core.roles), so only a superuser reaches it: a query can quote a post-baseline lab value,
# which the query pages hide from raters (trial.queries.selectors).
from trial.core.admin import register_clinical
from trial.queries.models import DataQuery

register_clinical(
    DataQuery,
    list_display=("participant", "form", "field", "status", "source", "created_at"),
    list_filter=("status", "source", "check_code"),
    search_fields=("participant__participant_id", "text"),
)
