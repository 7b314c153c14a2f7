#!/usr/bin/env bash
# `make prod-local`: the production shape on one machine, with one command. PostgreSQL and Redis
# (the running ones, or started here), gunicorn with 4 workers over HTTPS with a local self-signed
# certificate (the production settings keep secure cookies, HSTS and the SSL redirect unchanged),
# two Celery worker processes and celery beat (the periodic sweep of stuck analysis runs), all with
# trial.settings.production. The environment it uses is written to var/prod-local/env, which
# benchmarks/load.py reads. Ctrl-C stops everything it started (not PostgreSQL or Redis).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
STATE=var/prod-local
mkdir -p "$STATE"
PG_HOST="${PG_HOST:-127.0.0.1}"
DB="${PROD_LOCAL_DB:-stratum_prod_local}"
PORT="${PROD_LOCAL_PORT:-8443}"

if ! pg_isready -q -h "$PG_HOST" -p 5432; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h "$PG_HOST" -p 5432 && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no --dir "$PWD/$STATE"
  for _ in $(seq 1 30); do redis-cli ping >/dev/null 2>&1 && break; sleep 1; done
fi
if ! psql -h "$PG_HOST" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1; then
  psql -h "$PG_HOST" -U postgres -q -c "CREATE DATABASE \"$DB\""
fi

# A secret key made once per machine and kept out of the repository (var/ is ignored).
if [ ! -s "$STATE/secret_key" ]; then
  (umask 077 && $PY -c 'import secrets; print(secrets.token_urlsafe(50))' > "$STATE/secret_key")
fi
# A self-signed certificate for 127.0.0.1 and localhost; benchmarks/load.py trusts exactly this one.
if [ ! -s "$STATE/cert.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$STATE/key.pem" -out "$STATE/cert.pem" 2>/dev/null
  chmod 600 "$STATE/key.pem"
fi
cat > "$STATE/env" <<ENV
DJANGO_SETTINGS_MODULE=trial.settings.production
DJANGO_SECRET_KEY=$(cat "$STATE/secret_key")
DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost
DATABASE_URL=postgres://postgres@$PG_HOST:5432/$DB
CELERY_BROKER_URL=redis://127.0.0.1:6379/1
DJANGO_CACHE_URL=redis://127.0.0.1:6379/2
DJANGO_EMAIL_BACKEND=django.core.mail.backends.console.EmailBackend
STRATUM_SITE_URL=https://127.0.0.1:$PORT
ENV
chmod 600 "$STATE/env"
set -a; . "$STATE/env"; set +a

$PY manage.py migrate --noinput
$PY manage.py load_protocol
$PY manage.py seed_demo --participants "${PROD_LOCAL_PARTICIPANTS:-60}" --seed 2013 --if-empty
$PY manage.py collectstatic --noinput --verbosity 0

PIDS=()
.venv/bin/gunicorn trial.wsgi:application --workers 4 --bind "127.0.0.1:$PORT" \
  --certfile "$STATE/cert.pem" --keyfile "$STATE/key.pem" --access-logfile "$STATE/access.log" \
  --error-logfile "$STATE/gunicorn.log" --timeout 120 &
PIDS+=($!)
$PY -m celery -A trial worker --concurrency 2 --loglevel INFO --logfile "$STATE/celery.log" &
PIDS+=($!)
$PY -m celery -A trial beat --loglevel INFO --schedule "$STATE/celerybeat-schedule" --logfile "$STATE/beat.log" &
PIDS+=($!)

stop() {
  trap - INT TERM EXIT
  echo "Stopping gunicorn, the Celery workers and beat..."
  kill -TERM "${PIDS[@]}" 2>/dev/null || true
  wait "${PIDS[@]}" 2>/dev/null || true
  echo "Stopped."
  exit 0
}
trap stop INT TERM EXIT
echo "Stratum (production settings): https://127.0.0.1:$PORT  (certificate: $STATE/cert.pem; logs in $STATE/)"
echo "Load: .venv/bin/python benchmarks/load.py --users 30 --duration 60"
wait -n "${PIDS[@]}"
