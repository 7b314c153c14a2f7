"""The test suite: SQLite unless DATABASE_URL says otherwise (CI's PostgreSQL run)."""

import os

from trial.settings.base import *  # noqa: F403
from trial.settings.base import BASE_DIR, DATABASES, REST_FRAMEWORK

# Fast hashing: tests log in hundreds of times; production keeps Django's default hasher.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STRATUM_ALLOW_FLUSH = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so that threads and a worker process share one database in
    # the concurrency tests; pytest-django creates and removes it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-{os.getpid()}.sqlite3")}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
# Tasks run in-process so each test sees its own result; the one test that proves a real worker
# (tests/analysis/test_celery_roundtrip.py) switches eager mode off for itself and uses the broker.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True

# django-axes needs the request in authenticate(), which the test client's `login()` does not pass.
# The lockout tests (tests/trial/core/test_login_lockout.py) switch it on and log in through the
# login page, as a person would.
AXES_ENABLED = False
# The suite logs in with force_login and no authenticator; tests/trial/security/test_two_factor.py
# switches the requirement on, as production has it.
STRATUM_REQUIRE_TWO_FACTOR = False

# The suite writes as the same few named users many times a minute in each worker, and the default
# cache lives for the whole process: the write throttle would refuse them. Its test sets a small rate.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api-write": "100000/min"}}
