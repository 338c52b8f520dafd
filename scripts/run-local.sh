#!/usr/bin/env bash
# `make run`: a local Redis (append-only, under ./var), both services and the demo page
# (web/, on an origin of its own) in the foreground. Ctrl-C stops them all. Honours
# AUTH_PORT, RESOURCE_PORT, WEB_PORT, REDIS_PORT, ALLOWED_ORIGINS, and REDIS_URL
# (set REDIS_URL to use a Redis of your own; then none is started here).
# Email is on (EMAIL=off turns it off): a local SMTP sink on MAIL_PORT (default 1025) keeps
# each mail in var/mail/ and prints its link, and the mailer process sends the queued mails to it.
set -euo pipefail
cd "$(dirname "$0")/.."

export AUTH_PORT="${AUTH_PORT:-8001}"
export RESOURCE_PORT="${RESOURCE_PORT:-8002}"
export WEB_PORT="${WEB_PORT:-8000}"
# The demo page's origin, under both names of this machine: pages there may call both services.
export ALLOWED_ORIGINS="${ALLOWED_ORIGINS:-http://localhost:$WEB_PORT,http://127.0.0.1:$WEB_PORT}"
REDIS_PORT="${REDIS_PORT:-6379}"
export JWT_ISSUER="${JWT_ISSUER:-http://127.0.0.1:$AUTH_PORT}"
export JWT_PRIVATE_KEY_FILE="${JWT_PRIVATE_KEY_FILE:-$PWD/var/jwt-key.pem}"
export REFRESH_TOKEN_KEY_FILE="${REFRESH_TOKEN_KEY_FILE:-$PWD/var/refresh-token.key}"
mkdir -p var/redis
export EMAIL="${EMAIL:-on}"
MAIL_PORT="${MAIL_PORT:-1025}"

pids=()
stop_all() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all INT TERM EXIT

if [ -z "${REDIS_URL:-}" ]; then
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  echo "starting redis-server on 127.0.0.1:$REDIS_PORT (data in var/redis, append-only)"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$PWD/var/redis" \
    --appendonly yes --appendfsync everysec --save "" --loglevel warning &
  pids+=($!)
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

if [ ! -e "$JWT_PRIVATE_KEY_FILE" ]; then
  python -m auth_service generate-key "$JWT_PRIVATE_KEY_FILE"
fi
if [ ! -e "${REFRESH_TOKEN_KEY_FILE%%,*}" ]; then
  python -m auth_service generate-refresh-key "${REFRESH_TOKEN_KEY_FILE%%,*}"
fi

if [ "$EMAIL" = on ]; then
  # Mail goes to the local sink unless SMTP_URL names a real server; links open the demo page.
  if [ -z "${SMTP_URL:-}" ]; then
    export SMTP_URL="smtp://127.0.0.1:$MAIL_PORT"
    python scripts/mail_sink.py --port "$MAIL_PORT" --directory var/mail &
    pids+=($!)
  fi
  export MAIL_FROM="${MAIL_FROM:-Auth service <auth@localhost.localdomain>}"
  # The demo page's origin as printed below (localhost: the same site as the auth service it calls).
  export PUBLIC_URL="${PUBLIC_URL:-http://localhost:$WEB_PORT}"
  echo "mailer sending to $SMTP_URL (links under $PUBLIC_URL)"
  python -m auth_service mailer &
  pids+=($!)
fi

echo "auth service on http://127.0.0.1:$AUTH_PORT"
python -m auth_service serve &
pids+=($!)
if [ -e resource_service/__main__.py ]; then
  # Given JWT_ISSUER alone, the resource service finds the JWKS in the auth service's
  # RFC 8414 metadata, waiting for it to come up.
  echo "resource service on http://127.0.0.1:$RESOURCE_PORT"
  python -m resource_service serve &
  pids+=($!)
fi

# The page reaches the services under the host name it was opened with (localhost or 127.0.0.1).
python web/serve.py &
pids+=($!)

# Stop everything as soon as one of them stops.
wait -n
