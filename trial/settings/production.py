"""Production: PostgreSQL and Redis from the environment; nothing insecure by default."""

import os

from trial.settings.base import *  # noqa: F403
from trial.settings.base import database_from_env

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h.strip()]
DATABASES = {"default": database_from_env(os.environ["DATABASE_URL"])}
CELERY_BROKER_URL = os.environ["CELERY_BROKER_URL"]
# The cache holds the API write throttle's counts. Django's default is per process, so with several
# gunicorn workers each would allow the full rate; one Redis makes the limit one per deployment.
if cache_url := os.environ.get("DJANGO_CACHE_URL") or os.environ.get("REDIS_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": cache_url}}

SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_SSL_REDIRECT = os.environ.get("DJANGO_SECURE_SSL_REDIRECT", "1") == "1"
# HSTS for a year, subdomains included, preload-ready: a trial database is served over HTTPS only
# (21 CFR 11.30, controls for open systems). A deployment on a shared parent domain can lower these.
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", 60 * 60 * 24 * 365))
SECURE_HSTS_INCLUDE_SUBDOMAINS = os.environ.get("DJANGO_HSTS_INCLUDE_SUBDOMAINS", "1") == "1"
SECURE_HSTS_PRELOAD = os.environ.get("DJANGO_HSTS_PRELOAD", "1") == "1"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
EMAIL_BACKEND = os.environ.get("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
