#!/usr/bin/env bash
# `manage.py check --deploy` with the production settings and a plausible environment: must report
# 0 issues (warnings count as failures). Nothing here is a real secret; the values only let the
# production settings load the way they would on a server.
set -euo pipefail
cd "$(dirname "$0")/.."
export DJANGO_SETTINGS_MODULE=trial.settings.production
export DJANGO_SECRET_KEY="ci-$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')"
export DJANGO_ALLOWED_HOSTS="stratum.example.org"
export DATABASE_URL="${CHECK_DATABASE_URL:-postgres://stratum@127.0.0.1:5432/stratum}"
export CELERY_BROKER_URL="redis://127.0.0.1:6379/0"
.venv/bin/python manage.py check --deploy --fail-level WARNING
