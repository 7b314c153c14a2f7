#!/usr/bin/env bash
# Start the web server and a real Celery worker (filesystem broker: no Redis needed) and stop both
# cleanly on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DJANGO_SETTINGS_MODULE=trial.settings.local

$PY -m celery -A trial worker --loglevel=INFO --concurrency=1 --pool=solo &
WORKER=$!
# `PORT=9000 make demo` (the usual name), or STRATUM_PORT (make demo-closed uses it for its second server).
PORT="${STRATUM_PORT:-${PORT:-8000}}"
# Links in e-mails (a code break) point at this server unless the deployment says otherwise.
export STRATUM_SITE_URL="${STRATUM_SITE_URL:-http://127.0.0.1:$PORT}"
$PY manage.py runserver "127.0.0.1:$PORT" --noreload &
WEB=$!

stop() {
  trap - INT TERM EXIT
  echo "Stopping web server and Celery worker..."
  kill -TERM "$WEB" "$WORKER" 2>/dev/null || true
  wait "$WEB" "$WORKER" 2>/dev/null || true
  echo "Stopped."
  exit 0
}
trap stop INT TERM EXIT
echo "Stratum demo: http://127.0.0.1:$PORT  (logins in README.md; Ctrl-C stops)"
wait -n "$WEB" "$WORKER"
