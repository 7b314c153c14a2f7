"""The roles of DEVELOPERS.md, as Django groups, and what each may do.

Group membership is the single source of a user's role. Whether a role is blinded is NOT decided
here: ask `trial.blinding`.
"""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


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
}

# Django model permissions per role, for the admin site. Apps and models are listed by label;
# "*" means every model of the app. Synced after every migrate (trial.core.apps).
_CLINICAL_APPS = ("participants", "visits", "safety")
ROLE_MODEL_PERMISSIONS: dict[Role, dict[str, tuple[str, ...]]] = {
    Role.COORDINATOR: dict.fromkeys(_CLINICAL_APPS, ("view", "add", "change")),
    Role.RATER: {"visits": ("view", "add", "change"), "participants": ("view",)},
    Role.PHARMACIST: dict.fromkeys(_CLINICAL_APPS, ("view",)) | {"randomization": ("view",)},
    Role.INVESTIGATOR: dict.fromkeys(_CLINICAL_APPS, ("view", "change")),
    Role.DATA_MANAGER: dict.fromkeys(_CLINICAL_APPS, ("view",)) | {"protocol": ("view",)},
    Role.STATISTICIAN_BLINDED: dict.fromkeys(_CLINICAL_APPS, ("view",)) | {"analysis": ("view", "add")},
    Role.STATISTICIAN_UNBLINDED: dict.fromkeys(_CLINICAL_APPS, ("view",))
    | {"analysis": ("view", "add"), "randomization": ("view", "add", "change")},
    Role.DSMB: dict.fromkeys(_CLINICAL_APPS, ("view",)),
    Role.ADMINISTRATOR: {"auth": ("view", "add", "change"), "protocol": ("view",)},
}


def user_roles(user: AbstractBaseUser | AnonymousUser | None) -> frozenset[Role]:
    if user is None or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_stratum_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
        cached = frozenset(r for r in Role if r.value in names)
        user._stratum_roles = cached  # type: ignore[union-attr]
    return cached


def has_role(user: AbstractBaseUser | AnonymousUser | None, *roles: Role) -> bool:
    return bool(user_roles(user) & set(roles))
