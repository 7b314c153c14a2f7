"""`manage.py audit_verify`: check the audit trail's hash chain and every clinical row against its
last history snapshot (21 CFR 11.10(c) and (e)). Exits non-zero on any finding, so CI and a nightly
job fail loudly. Prints the chain head; keep it outside the database and pass it back later with
`--expect-at-least COUNT:HASH` to detect the newest rows being cut off together with their seals."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trial.core.audit_chain import audit_verify, chain_head
from trial.core.models import AuditSeal


class Command(BaseCommand):
    help = "Verify the audit trail: hash chain, sealed rows, and clinical rows against their history."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--expect-at-least",
            metavar="COUNT:HASH",
            help="A head printed by an earlier run: the chain must still hold that seal at that position.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        findings = [str(f) for f in audit_verify()]
        if options["expect_at_least"]:
            count_text, _, expected = options["expect_at_least"].partition(":")
            count = int(count_text)
            seal = AuditSeal.objects.order_by("pk")[count - 1 : count].first() if count > 0 else None
            if count > 0 and (seal is None or seal.chain_sha256 != expected):
                findings.append(f"chain_truncated: seal {count}: the chain no longer holds the head recorded earlier")
        head = chain_head()
        for finding in findings:
            self.stderr.write(finding)
        self.stdout.write(f"audit chain head: {head.count}:{head.sha256}")
        if findings:
            raise CommandError(f"audit_verify: {len(findings)} finding(s); the audit trail has been tampered with")
        self.stdout.write(self.style.SUCCESS("audit_verify: the audit trail is intact"))
