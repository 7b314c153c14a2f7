"""System check: the access policy never lets a blinded role hold a capability that shows arms.

`trial.access` says who may open what; `trial.blinding` says who may see an arm. If the two ever
disagreed, a page that lists arms would open to a blinded role: the server refuses to start instead
(ICH E6(R3) 4.2, the blind is kept by design)."""

from typing import Any

from django.core.checks import Error, register

from trial import blinding
from trial.access import ARM_REVEALING, POLICY, Capability
from trial.accounts.policy import superuser_only_roles
from trial.core.roles import Role


@register("stratum")
def check_arm_revealing_capabilities(app_configs: Any, **kwargs: Any) -> list[Error]:
    errors = []
    for capability in sorted(ARM_REVEALING):
        blinded = POLICY[capability] - blinding.UNBLINDED_ROLES
        if blinded:
            roles = ", ".join(sorted(r.value for r in blinded))
            errors.append(
                Error(
                    f"Capability '{capability}' shows arms but is given to blinded roles: {roles}.",
                    hint="Give it only to roles trial.blinding.UNBLINDED_ROLES names.",
                    id="stratum.E010",
                )
            )
    return errors


@register("stratum")
def check_code_break_approvers(app_configs: Any, **kwargs: Any) -> list[Error]:
    """Approvers of code breaks are a different role from requesters and from the administrator, and
    only a superuser grants them (ICH E6(R3) 4.2): otherwise one person, or whoever creates accounts,
    could both ask for an arm and approve it."""
    deciders = POLICY[Capability.DECIDE_CODE_BREAK]
    errors = []
    for other in (Capability.REQUEST_CODE_BREAK, Capability.MANAGE_USERS):
        shared = deciders & POLICY[other]
        if shared:
            errors.append(
                Error(
                    f"Roles that approve code breaks also hold '{other}': {', '.join(sorted(shared))}.",
                    id="stratum.E011",
                )
            )
    if not deciders <= superuser_only_roles():
        errors.append(Error("A role that approves code breaks can be granted by a non-superuser.", id="stratum.E012"))
    return errors


@register("stratum")
def check_adverse_event_roles(app_configs: Any, **kwargs: Any) -> list[Error]:
    """The protocol's [blinding] adverse_events_hidden_from names roles that exist: a misspelt role
    would silently show adverse events to the rater it meant to exclude."""
    from trial.protocol.config import ProtocolError
    from trial.protocol.selectors import protocol

    try:
        config = protocol()
    except ProtocolError:
        return []  # the protocol's own check reports a broken file
    unknown = sorted(set(config.adverse_events_hidden_from) - {r.value for r in Role})
    if not unknown:
        return []
    return [
        Error(
            f"The protocol's [blinding] adverse_events_hidden_from names unknown roles: {', '.join(unknown)}.",
            hint=f"Roles are: {', '.join(r.value for r in Role)}.",
            id="stratum.E013",
        )
    ]
