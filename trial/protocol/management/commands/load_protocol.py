from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from trial.protocol.config import ProtocolError, load_protocol_file
from trial.protocol.services import ProtocolMismatchError, protocol_load


class Command(BaseCommand):
    help = "Load the trial's protocol file (TOML) into the database. Safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--file", default=str(settings.STRATUM_PROTOCOL_FILE))

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            config = load_protocol_file(path)
            trial = protocol_load(config=config)
        except ProtocolError as exc:
            raise CommandError(f"{path} is not a valid protocol:\n  - " + "\n  - ".join(exc.problems)) from exc
        except (ProtocolMismatchError, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Loaded protocol {trial.code} ({len(config.visits)} visits, {len(config.sites)} site(s),"
            f" {len(config.strata())} strata), sha256 {config.sha256[:12]}"
        )
