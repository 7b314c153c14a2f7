"""The protocol file's soft checks ([[soft_checks]]) on visit data: what each finds in one value.

Each function returns the message to show (in the protocol file's words) or None. The same function
serves the three kinds a check can be: a warning on the form (trial.core.views.RecordFormView shows
it and the user may still save), a refusal (the service raises it, the form keeps what was typed),
or a query on the saved value (trial.queries.checks reads the stored records through it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django.utils import timezone

from trial.protocol.config import Analyte, SoftCheck
from trial.protocol.selectors import protocol

BLOOD_DRAW_TIME = "blood_draw_time"
ELISA_CV = "elisa_cv"
INFUSION_DURATION = "infusion_duration"
MISSED_BEFORE_WINDOW = "missed_before_window"
VISIT_SKIPS_UNFINISHED = "visit_skips_unfinished"


@dataclass(frozen=True)
class SoftFinding:
    """One soft check that fired: which, on what field of which form, and what the user reads."""

    code: str
    kind: str
    field: str
    message: str
    visit_id: int | None = None
    # A firing on a value that would reveal the arm (a post-baseline TNF, trial.blinding): counted on
    # the Edit checks page for unblinded roles only.
    reveals_arm: bool = False


def check_of(code: str, *kinds: str) -> SoftCheck | None:
    """The protocol file's check, if it configures it as one of these kinds."""
    check = protocol().soft_check(code)
    return check if check is not None and (not kinds or check.kind in kinds) else None


def _clock(text: str) -> time:
    return time(int(text[:2]), int(text[3:]))


def blood_draw_time(check: SoftCheck, drawn_at: datetime | None) -> str | None:
    """Schedule of assessments: blood between 8 and 10 AM. Both ends are inside (08:00 and 10:00 pass)."""
    if drawn_at is None:
        return None
    local = timezone.localtime(drawn_at) if timezone.is_aware(drawn_at) else drawn_at
    at = local.time().replace(second=0, microsecond=0)
    if _clock(check.params["earliest"]) <= at <= _clock(check.params["latest"]):
        return None
    return check.say(time=f"{local:%H:%M}")


def cv_percent(r1: Any, r2: Any) -> float | None:
    """Coefficient of variation of two replicates, % (SD of the pair over its mean)."""
    if r1 is None or r2 is None:
        return None
    a, b = float(r1), float(r2)
    mean = (a + b) / 2
    return 0.0 if mean == 0 else abs(a - b) / 2**0.5 / mean * 100


def elisa_cv(check: SoftCheck, analyte: Analyte, r1: Any, r2: Any) -> str | None:
    """Schedule of assessments: ELISA in duplicate, CV <= 10%; above it, the check fires."""
    if not analyte.duplicates:
        return None
    cv = cv_percent(r1, r2)
    if cv is None or cv <= float(check.params["max_cv_percent"]):
        return None
    return check.say(
        analyte=analyte.label, r1=_plain(r1), r2=_plain(r2), cv=f"{cv:.1f}", limit=check.params["max_cv_percent"]
    )


def infusion_duration(check: SoftCheck, start: datetime | None, stop: datetime | None) -> str | None:
    """Design: each infusion over 120 minutes; a shorter one fires (exactly the minimum passes)."""
    if start is None or stop is None or stop <= start:
        return None
    minutes = (stop - start).total_seconds() / 60
    if minutes >= float(check.params["min_minutes"]):
        return None
    return check.say(minutes=f"{minutes:g}", limit=check.params["min_minutes"])


def missed_before_window(check: SoftCheck, *, visit_name: str, window_start: date, today: date) -> str | None:
    """A visit is missed only once it could have been done: from the day its window opens."""
    if today >= window_start:
        return None
    return check.say(visit=visit_name, opens=f"{window_start:%d %b %Y}")


def visit_skips_unfinished(check: SoftCheck, earlier: Iterable[tuple[str, list[str]]]) -> str | None:
    """Visits are entered in the order of the schedule: the first earlier visit with forms to do fires."""
    for name, forms in earlier:
        if forms:
            return check.say(earlier=name, forms=", ".join(forms))
    return None


def _plain(value: Any) -> str:
    return format(Decimal(str(value)).normalize(), "f")


# --- Warnings on a form: the checks the protocol file makes warnings, on what was typed -------------


def _finding(check: SoftCheck, field: str, message: str | None, visit_id: int | None, **kw: Any) -> list[SoftFinding]:
    return [] if message is None else [SoftFinding(check.code, check.kind, field, message, visit_id, **kw)]


def draw_time_warnings(visit_id: int | None, field: str, drawn_at: datetime | None) -> list[SoftFinding]:
    check = check_of(BLOOD_DRAW_TIME, "warning")
    return [] if check is None else _finding(check, field, blood_draw_time(check, drawn_at), visit_id)


def lab_warnings(
    *, visit_id: int | None, week: int, analytes: Iterable[Analyte], values: dict[str, Any]
) -> list[SoftFinding]:
    """ELISA CV on the replicates typed (`<code>_replicate_1`, `<code>_replicate_2`)."""
    from trial.blinding import lab_reveals_arm

    check = check_of(ELISA_CV, "warning")
    if check is None:
        return []
    out: list[SoftFinding] = []
    for a in analytes:
        r1, r2 = values.get(f"{a.code}_replicate_1"), values.get(f"{a.code}_replicate_2")
        message = elisa_cv(check, a, r1, r2)
        out += _finding(check, f"{a.code}_replicate_2", message, visit_id, reveals_arm=lab_reveals_arm(a.code, week))
    return out


def infusion_warnings(visit_id: int | None, start: datetime | None, stop: datetime | None) -> list[SoftFinding]:
    check = check_of(INFUSION_DURATION, "warning")
    return [] if check is None else _finding(check, "stop_time", infusion_duration(check, start, stop), visit_id)


def visit_order_warnings(visit: Any) -> list[SoftFinding]:
    """A visit about to be recorded as done while an earlier done visit still has forms to do."""
    from trial.visits.selectors import earlier_forms_to_do

    check = check_of(VISIT_SKIPS_UNFINISHED, "warning")
    if check is None or visit.definition.week <= 0:
        return []
    message = visit_skips_unfinished(check, earlier_forms_to_do(visit))
    return _finding(check, "visit_date", message, visit.pk)
