"""Writes of the protocol: load the file into the rows other records point at."""

from django.db import transaction

from trial.protocol.config import ProtocolConfig
from trial.protocol.models import Site, Trial, VisitDefinition


class ProtocolMismatchError(Exception):
    pass


@transaction.atomic
def protocol_load(*, config: ProtocolConfig) -> Trial:
    """Create or update the trial, its sites and visit definitions. Idempotent.

    One deployment runs one trial, so a file for a different trial code is refused rather than
    silently mixed in.
    """
    existing = Trial.objects.exclude(code=config.code).first()
    if existing is not None:
        raise ProtocolMismatchError(
            f"This database already runs trial {existing.code}; refusing to load protocol {config.code}."
        )
    trial, _ = Trial.objects.update_or_create(
        code=config.code,
        defaults={
            "title": config.title,
            "registration": config.registration,
            "target_enrollment": config.target_enrollment,
            "protocol_sha256": config.sha256,
        },
    )
    for site in config.sites:
        Site.objects.update_or_create(code=site.code, defaults={"trial": trial, "name": site.label})
    for v in config.visits:
        VisitDefinition.objects.update_or_create(
            code=v.code,
            defaults={
                "trial": trial,
                "name": v.name,
                "week": v.week,
                "window_before_days": v.window_before_days,
                "window_after_days": v.window_after_days,
                "forms": list(v.forms),
                "infusion": v.infusion,
            },
        )
    return trial
