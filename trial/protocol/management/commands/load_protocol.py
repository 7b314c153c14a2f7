from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from trial.protocol.config import ProtocolError, load_protocol_file
from trial.protocol.services import ProtocolMismatchError, protocol_load


class Command(BaseCommand):
    help = "Load the trial's protocol file (TOML) into the database. Safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        # The file in force is the setting (STRATUM_PROTOCOL); a path given here is checked against it,
        # so the database never holds a protocol that the running application does not read.
        parser.add_argument("path", nargs="?", help="the protocol file (default: STRATUM_PROTOCOL)")
        parser.add_argument("--file", help="the same, as an option")

    def handle(self, *args: Any, **options: Any) -> None:
        given = options["path"] or options["file"]
        in_force = Path(settings.STRATUM_PROTOCOL_FILE)
        path = Path(given) if given else in_force
        try:
            config = load_protocol_file(path)
            if path.resolve() != in_force.resolve():
                raise CommandError(
                    f"{path} is a valid protocol but not the one in force ({in_force}). Set STRATUM_PROTOCOL={path}"
                    " for every process of this deployment (web, worker, management commands), then load it."
                )
            trial = protocol_load(config=config)
        except ProtocolError as exc:
            raise CommandError(f"{path} is not a valid protocol:\n  - " + "\n  - ".join(exc.problems)) from exc
        except (ProtocolMismatchError, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Loaded protocol {trial.code} ({len(config.visits)} visits, {len(config.sites)} site(s),"
            f" {len(config.strata())} strata), sha256 {config.sha256[:12]}"
        )
