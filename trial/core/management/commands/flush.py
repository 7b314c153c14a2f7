"""`flush`, refused unless the settings allow it (tests only).

Django's TransactionTestCase empties the database with `flush` after each test. The audit triggers
refuse that, as they must in production, so in the test settings (STRATUM_ALLOW_FLUSH) this command
lifts them for the flush and puts them back; everywhere else it refuses to erase clinical data.
"""

from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands.flush import Command as DjangoFlush
from django.db import connections

from trial.core import audit_triggers


class Command(DjangoFlush):
    def handle(self, **options: Any) -> None:
        if not getattr(settings, "STRATUM_ALLOW_FLUSH", False):
            raise CommandError("flush is disabled: it would erase clinical records and their audit trail.")
        connection = connections[options.get("database", "default")]
        audit_triggers.uninstall(connection)
        try:
            super().handle(**options)
        finally:
            audit_triggers.install(connection)
