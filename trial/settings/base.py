"""Settings shared by every environment. Environment-specific files override a few names."""

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

SECRET_KEY = "insecure-development-key-override-in-production"  # noqa: S105 - overridden in production.py
DEBUG = False
ALLOWED_HOSTS: list[str] = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    # trial.core first: it overrides `flush` so the audit triggers are honoured (see its docstring).
    "trial.core",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_celery_results",
    "trial.protocol",
    "trial.participants",
    "trial.randomization",
    "trial.pharmacy",
    "trial.visits",
    "trial.safety",
    "trial.queries",
    "trial.closeout",
    "trial.workspace",
    "trial.accounts",
    "analysis",
    "trial.exports",
    "trial.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Early: NUL bytes refused with 400 before a session, backend or view reads them; a busy or
    # dropped database answered with 503 "try again".
    "trial.core.request_safety.RequestSafetyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "trial.core.middleware.IdleTimeoutMiddleware",
    "trial.accounts.two_factor.TwoFactorRequiredMiddleware",
    # A participant's record reached through a URL: 404 outside the user's sites (trial.workspace.scope).
    "trial.workspace.scope.SiteScopeMiddleware",
    "trial.core.middleware.NoStoreMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# django-axes first: it refuses a locked-out account or address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_USER_MODEL = "core.User"

ROOT_URLCONF = "trial.urls"
WSGI_APPLICATION = "trial.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "trial.core.context_processors.stratum",
                "trial.closeout.context_processors.closeout",
            ],
        },
    },
]


def database_from_env(default_url: str) -> dict[str, Any]:
    """DATABASE_URL wins; SQLite gets the options that make it safe for concurrent writers."""
    import os

    config: dict[str, Any] = dict(dj_database_url.parse(os.environ.get("DATABASE_URL", default_url)))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {
            # IMMEDIATE takes the write lock at BEGIN, so two allocations cannot both read
            # the same "next free slot" and then race to write it (SQLite has no row locks).
            "transaction_mode": "IMMEDIATE",
            # Writers wait for the lock instead of failing at once with "database is locked".
            "timeout": 20,
            # WAL lets readers proceed while one writer holds the lock.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        }
    else:
        # Persistent connections (dj_database_url sets 0, so a setdefault would never apply).
        config["CONN_MAX_AGE"] = config.get("CONN_MAX_AGE") or 60
    # A persistent connection that the server dropped (restart, pg_terminate_backend) is checked
    # before a request reuses it and replaced, instead of failing that request.
    config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASES = {"default": database_from_env(f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Passwords are stored as Argon2id hashes (memory-hard, so costlier to guess on graphics cards; Django's
# and OWASP's first choice). A login and every re-entry of the password for an electronic signature
# (21 CFR 11.200(a)) hashes it once, and Argon2 at Django's settings takes about a quarter of the CPU time
# of PBKDF2 at 1,000,000 iterations. Hashes made by the other hashers still verify and are re-hashed with
# Argon2 at the user's next login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

# 21 CFR 11.300 (controls for identification codes and passwords): long, not common, not all
# digits, not a variant of the user's own name or e-mail.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# 21 CFR 11.300(d): attempts at unauthorized use are detected and stopped. After 5 failures an
# account is locked, and so is the address they came from (either alone is enough: one address
# trying many accounts, or many addresses trying one), for 30 minutes or until an administrator
# resets it (`manage.py axes_reset`). Every failure is kept by django-axes and in the access log.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=30)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
# Failures and lockouts are read on Stratum's access log page; django-axes' own admin pages are off.
AXES_ENABLE_ADMIN = False

# 21 CFR 11.300: a second factor (an authenticator app's code, or a single-use backup code) for the
# unblinded roles, the administrator and superusers (trial.accounts.two_factor). On unless a
# settings file says otherwise; only the demo and the test suite do, and the demo's login page says so.
STRATUM_REQUIRE_TWO_FACTOR = True
OTP_TOTP_ISSUER = "Stratum"

LANGUAGE_CODE = "en-gb"
# Audit timestamps are stored in UTC (21 CFR Part 11: unambiguous time of each change).
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# One unambiguous display format (`02 Dec 2026`, times with their zone) and ISO 8601 entry, on every page
# and in the admin: the locale's own formats would otherwise win over DATE_FORMAT (trial/core/formats).
FORMAT_MODULE_PATH = ["trial.core.formats"]
DATE_FORMAT = "d M Y"
DATETIME_FORMAT = "d M Y H:i T"
DATE_INPUT_FORMATS = ["%Y-%m-%d"]
# Where the site is reached, for links in e-mails (a code-break notice links to the break).
STRATUM_SITE_URL = os.environ.get("STRATUM_SITE_URL", "http://127.0.0.1:8000").rstrip("/")

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
# Part 11 (11.300(d) and FDA guidance on unattended sessions): sessions end when the browser
# closes, and after 15 minutes without activity (trial.core.middleware.IdleTimeoutMiddleware; the
# page warns `STRATUM_IDLE_WARNING_SECONDS` before).
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_AGE = 60 * 60 * 8
STRATUM_IDLE_TIMEOUT_SECONDS = 15 * 60
STRATUM_IDLE_WARNING_SECONDS = 2 * 60
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True

REST_FRAMEWORK = {
    # Session only: Basic auth would send the password with every request, skip CSRF, and
    # (through DRF's own authenticate call) make a second door for guessing passwords.
    # Scripts: a per-user token (trial.exports.models.ApiToken, stored as its SHA-256, revocable).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "trial.exports.authentication.TokenAuthentication",
    ],
    "DEFAULT_SCHEMA_CLASS": "trial.exports.schema.StratumAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_PERMISSION_CLASSES": [
        "trial.access.CapabilityPermission",
        "trial.workspace.scope.SiteScopePermission",
        "trial.access.WritesOpenPermission",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # The services' refusals as status codes: 400 validation, 409 version conflict, 423 locked.
    "EXCEPTION_HANDLER": "trial.core.api.api_exception_handler",
    # Write endpoints (trial.core.api.WriteApi) per user; counted in the default cache (CACHES).
    "DEFAULT_THROTTLE_RATES": {"api-write": os.environ.get("STRATUM_API_WRITE_RATE", "120/min")},
}

SPECTACULAR_SETTINGS = {
    # The schema is generated and checked by the suite (tests/trial/exports/test_api.py, Schemathesis), not by
    # `check --deploy`: there, drf-spectacular's notes about the hand-written read views it cannot describe
    # would fail a deployment that is otherwise sound.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
    "TITLE": "Stratum API",
    "DESCRIPTION": (
        "API of Stratum: participants, adverse events and the export datasets, blinded by role; data entry "
        "(screening, consent, randomization, visit forms, adverse events, medications) through the same "
        "services as the web forms, with version and reason for change."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}

# A strict Content Security Policy: scripts and styles only from our own static files, no inline
# script, no plugins, no framing (21 CFR 11.10(c), protecting records from a page that injects
# script; OWASP ASVS 14.4). Templates therefore carry no <script> body, no on* handler and no style
# attribute; behaviour lives in static/js/stratum.js.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
# A body nested deeper than the recursion limit is a 400, not a RecursionError.
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "trial.core.parsers.SafeJSONParser",
    "rest_framework.parsers.FormParser",
    "rest_framework.parsers.MultiPartParser",
]

# The audit trail stores the full reason for change, not a 100-character stub.
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

# The protocol as data: one TOML file per trial, so a second trial of the same design needs no code change.
# STRATUM_PROTOCOL chooses the file (a path, relative to the project or absolute); one deployment runs one
# trial, and the database refuses a second trial's file (trial.protocol.services.protocol_load).
STRATUM_PROTOCOL_FILE = BASE_DIR / os.environ.get("STRATUM_PROTOCOL", "protocols/infliximab_trd.toml")
# `manage.py flush` would erase clinical data and its audit trail; only the test settings allow it.
STRATUM_ALLOW_FLUSH = False
# Export bundles made by the Celery worker (trial.exports.models.ExportJob), read back by the web
# process for download: a directory both see, outside the static and media roots (never served as is).
EXPORT_JOB_DIR = Path(os.environ.get("STRATUM_EXPORT_JOB_DIR", VAR_DIR / "export-jobs"))

CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker killed mid-task leaves its message to be delivered again (with acks_late), not lost.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# celery beat: fail analysis runs and export jobs left running past their limit (analysis.tasks,
# trial.exports.tasks).
# ... and retry SAE alerts whose sending failed (trial.safety.notifications).
CELERY_BEAT_SCHEDULE = {
    "analysis-runs-sweep": {"task": "analysis.runs_sweep", "schedule": 5 * 60},
    "export-jobs-sweep": {"task": "exports.jobs_sweep", "schedule": 5 * 60},
    "sae-alerts-resend-due": {"task": "safety.notifications_resend_due", "schedule": 60},
}

EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = "stratum@localhost"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"stratum": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
