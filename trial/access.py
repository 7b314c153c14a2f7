"""The one access policy: which role may do what, named as capabilities.

Pages use `CapabilityRequiredMixin`, API views `CapabilityPermission`, services `require()`, and
templates `can()`. No other module lists roles for a purpose. Whether a user may see a participant's
ARM is a different question, decided by `trial.blinding`; the two meet in one place only: a
capability whose pages show arms (`ARM_REVEALING`) may be held only by roles `trial.blinding` counts
as unblinded, and a system check and a test hold that (ICH E6(R3) 4.2: the blind is kept by design,
not by each page remembering it).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from rest_framework.permissions import SAFE_METHODS, BasePermission

from trial.core.models import User
from trial.core.roles import Role, user_roles
from trial.core.services import RecordLockedError
from trial.core.types import Actor


class Capability(StrEnum):
    VIEW_PARTICIPANTS = "view_participants"
    ENTER_DATA = "enter_data"  # screening, consent, enrolment, visits, infusions, labs, adverse events
    # Post-baseline results of the analytes that reveal the arm (trial.blinding): by form or the lab's CSV.
    ENTER_REVEALING_LABS = "enter_revealing_labs"
    RATE = "rate"  # HAM-D-17 and CGI-S
    RAISE_QUERIES = "raise_queries"
    ANSWER_QUERIES = "answer_queries"
    VIEW_ALLOCATIONS = "view_allocations"  # randomization number and date; the arm is blinding's call
    RANDOMIZE = "randomize"
    MANAGE_LISTS = "manage_lists"  # make, upload, view and activate randomization lists
    REQUEST_CODE_BREAK = "request_code_break"
    DECIDE_CODE_BREAK = "decide_code_break"  # see all, approve and review code breaks
    VIEW_CODE_BREAKS = "view_code_breaks"  # the code-break pages: requesters see their own only
    VIEW_PHARMACY = "view_pharmacy"
    DISPENSE = "dispense"  # prepare, label, dispense, waste; receive lots
    EXPORT = "export"
    # Create, list and revoke one's own API tokens: every role that reads or writes through the API.
    USE_API_TOKENS = "use_api_tokens"
    POOLED_ANALYSIS = "pooled_analysis"
    FINAL_ANALYSIS = "final_analysis"
    MANAGE_USERS = "manage_users"
    RECEIVE_SAE_ALERTS = "receive_sae_alerts"  # e-mailed at once when an SAE is recorded
    VIEW_ACCESS_LOG = "view_access_log"  # the access audit log (21 CFR 11.10(e)); also every superuser
    VIEW_NOTIFICATION_FAILURES = "view_notification_failures"  # SAE alerts that could not be sent
    # Close-out (ICH E6(R3) monitoring and database lock; 21 CFR 11.50, 11.70, 11.100, 11.200).
    REVIEW_CRFS = "review_crfs"  # read every CRF read-only, verify source data (SDV), the worklist
    FREEZE_FORMS = "freeze_forms"
    LOCK_CASEBOOKS = "lock_casebooks"
    SIGN_CASEBOOKS = "sign_casebooks"  # the investigator's electronic signature
    APPROVE_DATABASE_LOCK = "approve_database_lock"
    APPROVE_UNLOCK = "approve_unlock"  # the second person on a casebook or database unlock
    UNBLIND_STUDY = "unblind_study"  # declare the formal unblinding after database lock
    APPROVE_UNBLINDING = "approve_unblinding"  # the second person on the formal unblinding
    DSMB_CLOSED_REPORT = "dsmb_closed_report"  # the by-arm closed-session report, the only one before lock
    # The Edit checks page: every check of the protocol file, its kind and how often it fired.
    VIEW_EDIT_CHECKS = "view_edit_checks"
    # Code adverse-event terms the dictionary did not match (MedDRA-shaped LLT -> PT -> SOC).
    CODE_ADVERSE_EVENTS = "code_adverse_events"


_ALL = frozenset(Role)
_DATA_ENTRY = frozenset({Role.COORDINATOR, Role.INVESTIGATOR})
_UNBLINDED_STATS = frozenset({Role.STATISTICIAN_UNBLINDED, Role.DSMB})

POLICY: dict[Capability, frozenset[Role]] = {
    Capability.VIEW_PARTICIPANTS: _ALL,
    Capability.ENTER_DATA: _DATA_ENTRY,
    # The unblinded statistician, who also holds the list; the site records only the sample.
    Capability.ENTER_REVEALING_LABS: frozenset({Role.STATISTICIAN_UNBLINDED}),
    Capability.RATE: _DATA_ENTRY | {Role.RATER},
    Capability.RAISE_QUERIES: frozenset({Role.DATA_MANAGER}),
    Capability.ANSWER_QUERIES: _DATA_ENTRY,
    Capability.VIEW_ALLOCATIONS: _ALL - {Role.RATER, Role.ADMINISTRATOR},
    Capability.RANDOMIZE: _DATA_ENTRY,
    Capability.MANAGE_LISTS: frozenset({Role.STATISTICIAN_UNBLINDED}),
    Capability.REQUEST_CODE_BREAK: frozenset({Role.INVESTIGATOR}),
    # ICH E6(R3) 4.2: a second person in a different role, one only a superuser can grant
    # (trial.accounts.policy), so nobody who can create an investigator can also create its approver.
    Capability.DECIDE_CODE_BREAK: _UNBLINDED_STATS | {Role.MEDICAL_MONITOR},
    Capability.VIEW_CODE_BREAKS: _UNBLINDED_STATS | {Role.MEDICAL_MONITOR, Role.INVESTIGATOR},
    Capability.VIEW_PHARMACY: _UNBLINDED_STATS | {Role.PHARMACIST},
    Capability.DISPENSE: frozenset({Role.PHARMACIST}),
    Capability.EXPORT: _UNBLINDED_STATS | {Role.ADMINISTRATOR, Role.DATA_MANAGER, Role.STATISTICIAN_BLINDED},
    # A token acts with exactly its owner's roles and blind (trial.exports.authentication): the export
    # roles for the datasets, and the data-entry roles for the write endpoints.
    Capability.USE_API_TOKENS: _UNBLINDED_STATS
    | _DATA_ENTRY
    | {
        Role.ADMINISTRATOR,
        Role.DATA_MANAGER,
        Role.STATISTICIAN_BLINDED,
        Role.RATER,
        Role.PHARMACIST,
    },
    Capability.POOLED_ANALYSIS: _UNBLINDED_STATS | {Role.STATISTICIAN_BLINDED},
    Capability.FINAL_ANALYSIS: _UNBLINDED_STATS,
    Capability.MANAGE_USERS: frozenset({Role.ADMINISTRATOR}),
    Capability.RECEIVE_SAE_ALERTS: frozenset({Role.INVESTIGATOR}),
    Capability.VIEW_ACCESS_LOG: frozenset({Role.DATA_MANAGER}),
    # Whoever must act when an SAE alert did not go out: the investigators it was for, the data
    # manager who follows up, the administrator who fixes the mail server.
    Capability.VIEW_NOTIFICATION_FAILURES: frozenset({Role.INVESTIGATOR, Role.DATA_MANAGER, Role.ADMINISTRATOR}),
    Capability.REVIEW_CRFS: frozenset({Role.DATA_MANAGER}),
    Capability.FREEZE_FORMS: frozenset({Role.DATA_MANAGER}),
    Capability.LOCK_CASEBOOKS: frozenset({Role.DATA_MANAGER}),
    Capability.SIGN_CASEBOOKS: frozenset({Role.INVESTIGATOR}),
    Capability.APPROVE_DATABASE_LOCK: frozenset({Role.DATA_MANAGER, Role.STATISTICIAN_UNBLINDED}),
    Capability.APPROVE_UNLOCK: frozenset({Role.DATA_MANAGER, Role.INVESTIGATOR, Role.STATISTICIAN_UNBLINDED}),
    Capability.UNBLIND_STUDY: frozenset({Role.STATISTICIAN_UNBLINDED}),
    Capability.APPROVE_UNBLINDING: frozenset({Role.DATA_MANAGER, Role.INVESTIGATOR}),
    Capability.DSMB_CLOSED_REPORT: _UNBLINDED_STATS,
    # The data-validation plan's owner and the medical monitor who reviews it (ICH E6(R3) monitoring).
    Capability.VIEW_EDIT_CHECKS: frozenset({Role.DATA_MANAGER, Role.MEDICAL_MONITOR}),
    Capability.CODE_ADVERSE_EVENTS: frozenset({Role.DATA_MANAGER}),
}

# Capabilities a superuser holds without a role: the people who answer for the system's accounts
# must be able to read who used it (21 CFR 11.10(d) and (e)).
SUPERUSER_CAPABILITIES = frozenset({Capability.VIEW_ACCESS_LOG})

# Capabilities whose pages show every participant's arm, or the list that holds them.
ARM_REVEALING = frozenset(
    {
        Capability.MANAGE_LISTS,
        Capability.VIEW_PHARMACY,
        Capability.DISPENSE,
        Capability.FINAL_ANALYSIS,
        Capability.ENTER_REVEALING_LABS,
        Capability.DSMB_CLOSED_REPORT,
    }
)

# Capabilities that write trial data, refused while the database is locked (ICH E6(R3): data are
# final at lock; 21 CFR 11.10(d)). DISPENSE is not here: lot receipt and wastage (accountability
# reconciliation) stay open, and the record save guard refuses a participant's pharmacy records and
# the steps on pharmacy queries (a reconciliation that would open or close one is refused there).
WRITES_TRIAL_DATA = frozenset(
    {
        Capability.ENTER_DATA,
        Capability.RATE,
        Capability.RAISE_QUERIES,
        Capability.ANSWER_QUERIES,
        Capability.RANDOMIZE,
        Capability.MANAGE_LISTS,
        Capability.FREEZE_FORMS,
        Capability.SIGN_CASEBOOKS,
        Capability.CODE_ADVERSE_EVENTS,
        Capability.ENTER_REVEALING_LABS,
    }
)
# Each returns a refusal message while writes are closed, else None. trial.closeout registers its
# database-lock lookup from AppConfig.ready, so this module imports nothing above it.
_WRITE_REFUSALS: list[Callable[[], str | None]] = []


def write_refusal_register(check: Callable[[], str | None]) -> None:
    if check not in _WRITE_REFUSALS:
        _WRITE_REFUSALS.append(check)


def write_refusal(capability: Capability) -> str | None:
    """Why writes under this capability are closed now (the database lock), or None if they are open."""
    if capability in WRITES_TRIAL_DATA:
        for check in _WRITE_REFUSALS:
            refusal = check()
            if refusal:
                return refusal
    return None


def roles_for(capability: Capability) -> frozenset[Role]:
    return POLICY[capability]


def can(user: Actor | None, capability: Capability) -> bool:
    """Does this user hold a role that has the capability? Anonymous users hold none."""
    if capability in SUPERUSER_CAPABILITIES and user is not None and user.is_authenticated and user.is_superuser:
        return True
    return bool(user_roles(user) & POLICY[capability])


def _describe(capability: Capability) -> str:
    return capability.value.replace("_", " ")


def require(user: Actor | None, capability: Capability) -> User:
    """For services: raise PermissionDenied unless the user may; return the authenticated user.

    The message names the capability, never a participant or an arm, so it reveals nothing.
    """
    if not isinstance(user, User) or not can(user, capability):
        raise PermissionDenied(f"Your role does not allow this: {_describe(capability)}.")
    refusal = write_refusal(capability)
    if refusal:
        raise RecordLockedError(refusal)
    return user


def users_with(capability: Capability) -> Any:
    """Active users who hold the capability (for notifications)."""
    names = [r.value for r in POLICY[capability]]
    return get_user_model().objects.filter(is_active=True, groups__name__in=names).distinct()


class CapabilityRequiredMixin(LoginRequiredMixin):
    """Anonymous: redirect to login. Logged in without the capability: 403."""

    capability: Capability

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_authenticated:
            if not can(request.user, self.capability):
                raise PermissionDenied("Your role does not give access to this page.")
            self.access_decided = True
        return super().dispatch(request, *args, **kwargs)


class CapabilityPermission(BasePermission):
    """DRF, the default for every endpoint: the view's `capability` attribute decides. An endpoint
    that names none is refused (fails closed)."""

    message = "Your role does not give access to this endpoint."

    def has_permission(self, request: Any, view: Any) -> bool:
        capability: Capability | None = getattr(view, "capability", None)
        if capability is None:
            return False
        return bool(request.user and request.user.is_authenticated and can(request.user, capability))


class WritesOpenPermission(BasePermission):
    """DRF, a default for every endpoint: while the database is locked, a write (POST, PUT, PATCH,
    DELETE) to an endpoint whose capability writes trial data answers 423 before the body is read:
    the lock, not a complaint about the input, is what the client must hear (ICH E6(R3): data are
    final at lock). The services refuse again on their own (`require`)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        capability: Capability | None = getattr(view, "capability", None)
        refusal = write_refusal(capability) if capability is not None else None
        if refusal:
            raise RecordLockedError(refusal)
        return True
