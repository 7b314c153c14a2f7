"""The one bridge from the ORM to pandas.

Every analysis dataset is built here. The treatment arm is added only when the caller asks for an
unblinded frame AND the blinding module says the requesting context may see it.
"""

from __future__ import annotations

import pandas as pd

from trial.visits.models import HamD17


def hamd_long_frame(*, unblinded: bool = False) -> pd.DataFrame:
    """One row per participant x visit with a HAM-D: participant_id, week, hamd_total."""
    if unblinded:
        raise PermissionError("Unblinded frames are built only for an allowed unblinded run (trial.blinding).")
    rows = (
        HamD17.objects.active()
        .filter(visit__voided_at__isnull=True, visit__participant__voided_at__isnull=True)
        .values_list("visit__participant__participant_id", "visit__definition__week", "total")
    )
    return pd.DataFrame(list(rows), columns=["participant_id", "week", "hamd_total"])
