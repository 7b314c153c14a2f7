"""`manage.py two_factor_reset USERNAME`: remove a user's authenticator and backup codes, so that
they enrol again at their next login. Run on the server by the person who answers for accounts, after
checking the user's identity (21 CFR 11.300(c), loss management of devices); recorded in the access log."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trial.accounts.two_factor import two_factor_reset
from trial.core.models import User


class Command(BaseCommand):
    help = "Remove a user's two-factor authenticator and backup codes (they enrol again at next login)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--reason", required=True, help="Why, e.g. 'phone lost; identity checked in person'.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = User.objects.get(username=options["username"])
        except User.DoesNotExist as exc:
            raise CommandError(f"No user {options['username']!r}.") from exc
        removed = two_factor_reset(user=user, reason=options["reason"])
        self.stdout.write(f"Removed {removed} device(s) of {user.get_username()}; they enrol again at next login.")
