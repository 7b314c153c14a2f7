"""One date format everywhere, the admin included (settings.FORMAT_MODULE_PATH).

Shown as `02 Dec 2026`: the month in letters cannot be read the American or the European way.
Times carry their zone (`02 Dec 2026 14:05 UTC`): the audit trail records UTC, and a time without a
zone is not an unambiguous time of change (21 CFR 11.10(e)). Entry is ISO 8601 only, so `02/12/2026`
is refused rather than guessed (trial.core.forms.IsoDateInput shows the expected form).
"""

DATE_FORMAT = "d M Y"
SHORT_DATE_FORMAT = "d M Y"
DATETIME_FORMAT = "d M Y H:i T"
SHORT_DATETIME_FORMAT = "d M Y H:i T"
TIME_FORMAT = "H:i"
MONTH_DAY_FORMAT = "d M"
YEAR_MONTH_FORMAT = "M Y"
FIRST_DAY_OF_WEEK = 1  # Monday (ISO 8601)
DATE_INPUT_FORMATS = ["%Y-%m-%d"]
TIME_INPUT_FORMATS = ["%H:%M", "%H:%M:%S"]
DATETIME_INPUT_FORMATS = ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]
