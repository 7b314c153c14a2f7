"""The roles of DEVELOPERS.md, as Django groups, and what each may do.

Group membership is the single source of a user's role. Whether a role is blinded is NOT decided
here: ask `trial.blinding`.
"""

from __future__ import annotations

from enum import StrEnum

from trial.core.types import Actor


class Role(StrEnum):
    COORDINATOR = "coordinator"
    RATER = "rater"
    PHARMACIST = "pharmacist"
    INVESTIGATOR = "investigator"
    DATA_MANAGER = "data_manager"
    STATISTICIAN_BLINDED = "statistician_blinded"
    STATISTICIAN_UNBLINDED = "statistician_unblinded"
    DSMB = "dsmb"
    ADMINISTRATOR = "administrator"
    # The sponsor's medical monitor (ICH E6(R3) 3.11): blinded; a second person, in a role a blinded
    # administrator cannot grant, who approves emergency code breaks without seeing the arm.
    MEDICAL_MONITOR = "medical_monitor"


ROLE_LABELS: dict[Role, str] = {
    Role.COORDINATOR: "Study coordinator",
    Role.RATER: "Rater",
    Role.PHARMACIST: "Pharmacist (unblinded)",
    Role.INVESTIGATOR: "Investigator",
    Role.DATA_MANAGER: "Data manager / monitor",
    Role.STATISTICIAN_BLINDED: "Statistician (blinded)",
    Role.STATISTICIAN_UNBLINDED: "Statistician (unblinded)",
    Role.DSMB: "DSMB member (closed session)",
    Role.ADMINISTRATOR: "Administrator",
    Role.MEDICAL_MONITOR: "Medical monitor",
}


def role_label(name: str) -> str:
    """The human name of a role (a group's name is its code); a group that is no role keeps its name."""
    try:
        return ROLE_LABELS[Role(name)]
    except ValueError:
        return name


# Django model permissions per role, for the admin site. Apps and models are listed by label;
# "*" means every model of the app. Synced after every migrate (trial.core.apps).
_CLINICAL_APPS = ("participants", "visits", "safety")
_VIEW: tuple[str, ...] = ("view",)
_WRITE: tuple[str, ...] = ("view", "add", "change")
ROLE_MODEL_PERMISSIONS: dict[Role, dict[str, tuple[str, ...]]] = {
    Role.COORDINATOR: dict.fromkeys(_CLINICAL_APPS, _WRITE),
    Role.RATER: {"visits": _WRITE, "participants": _VIEW},
    Role.PHARMACIST: dict.fromkeys(_CLINICAL_APPS, _VIEW) | {"randomization": _VIEW},
    Role.INVESTIGATOR: dict.fromkeys(_CLINICAL_APPS, ("view", "change")),
    Role.DATA_MANAGER: dict.fromkeys(_CLINICAL_APPS, _VIEW) | {"protocol": _VIEW},
    Role.STATISTICIAN_BLINDED: dict.fromkeys(_CLINICAL_APPS, _VIEW) | {"analysis": ("view", "add")},
    Role.STATISTICIAN_UNBLINDED: dict.fromkeys(_CLINICAL_APPS, _VIEW)
    | {"analysis": ("view", "add"), "randomization": _WRITE},
    Role.DSMB: dict.fromkeys(_CLINICAL_APPS, _VIEW),
    # User accounts live in core (the custom user model); roles are auth groups, changed by a superuser only.
    Role.ADMINISTRATOR: {"core": _WRITE, "auth": _VIEW, "protocol": _VIEW},
    Role.MEDICAL_MONITOR: dict.fromkeys(_CLINICAL_APPS, _VIEW),
}


def user_roles(user: Actor | None) -> frozenset[Role]:
    if user is None or not user.is_authenticated:
        return frozenset()
    # Cached on the user object for the request: a page asks many times, the groups never change mid-request.
    cached: frozenset[Role] | None = getattr(user, "_stratum_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        cached = frozenset(r for r in Role if r.value in names)
        setattr(user, "_stratum_roles", cached)  # noqa: B010 - not a declared attribute of User, on purpose
    return cached
