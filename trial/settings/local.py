"""`make demo`: SQLite and a Celery worker on a filesystem broker, so no external service is needed."""

import os
from pathlib import Path

from trial.settings.base import *  # noqa: F403
from trial.settings.base import VAR_DIR

# DEBUG off even in the demo: a debug page shows settings, SQL and stack frames to anyone who
# triggers an error. The friendly 403, 404 and 500 pages are in templates/.
DEBUG = False

# The demo's logins work with the password alone, so that anyone can try every role; the login page
# says so. Production keeps two-factor authentication on (trial.settings.base).
STRATUM_REQUIRE_TWO_FACTOR = False

# A second demo (make demo-closed) runs beside the first with its own folder, so neither worker takes
# the other's tasks.
_BROKER_DIR = Path(os.environ.get("STRATUM_BROKER_DIR", VAR_DIR / "celery-broker"))
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    for _sub in ("out", "processed"):
        (_BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    # kombu's filesystem transport: producer and worker exchange messages as files in one folder.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "out"),
        "data_folder_out": str(_BROKER_DIR / "out"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "store_processed": False,
    }
