"""Settings shared by every environment. Environment-specific files override a few names."""

from pathlib import Path
from typing import Any

import dj_database_url

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
    "simple_history",
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
    "trial.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
        config.setdefault("CONN_MAX_AGE", 60)
    return config


DATABASES = {"default": database_from_env(f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
# Audit timestamps are stored in UTC (21 CFR Part 11: unambiguous time of each change).
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
# Part 11: sessions end when the browser closes and after inactivity.
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_AGE = 60 * 60 * 8
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["trial.access.CapabilityPermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

# The audit trail stores the full reason for change, not a 100-character stub.
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

# The protocol as data: one TOML file per trial, so a second trial of the same design needs no code change.
STRATUM_PROTOCOL_FILE = BASE_DIR / "protocols" / "infliximab_trd.toml"
# `manage.py flush` would erase clinical data and its audit trail; only the test settings allow it.
STRATUM_ALLOW_FLUSH = False

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

EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = "stratum@localhost"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"stratum": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
