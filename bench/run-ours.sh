#!/usr/bin/env bash
# Our IdP under the shared benchmark driver (../shared/bench), for same-run comparisons with
# node-oidc-provider (bench/run-peer-node.sh; bench/compare.sh runs both): one gunicorn worker
# pinned to CPU 0, the driver on CPU 1, as the shared run-peer.sh does. BENCH = a writable
# copy of ../shared/bench after its setup.sh (the shared folder is read-only). MODE=pg
# (PostgreSQL + Redis on the standard local ports, default) or sqlite; OUT = result folder
# (default /tmp/benchidp/out: one JSON per workload, wrk-*.json, rss.json); THREADS; the
# load knobs (MODES "token refresh sso", also "flow"; OPS, TOKEN_OPS, SECS, CONC e.g. 1,16,
# WARMUP, PREGEN, SERVER (gunicorn, default: config/gunicorn.conf.py as in production; or
# granian: one granian WSGI worker with THREADS blocking threads, for the comparison in the
# README), WRK_PATHS e.g. ".well-known/openid-configuration jwks.json", API (default
# "userinfo:userinfo introspection:introspect", empty = none), WRK_CONC,
# WRK_SECONDS) are described in bench/lib-drive.sh. After the load the worker's RSS is read.
# Development settings with the test hooks (captcha answers) and the driver's SMS sink: a
# throwaway database, never a real one.
set -euo pipefail
B=${BENCH:-/tmp/bench}; PY=$B/.venv/bin/python; ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODE=${MODE:-pg}; OPS=${OPS:-2000}; SECS=${SECS:-15}; TAG=${TAG:-ours}
WORK=/tmp/benchidp; rm -rf $WORK; OUT=${OUT:-$WORK/out}; mkdir -p $WORK "$OUT"
export IDP_ENV=development IDP_ISSUER=http://127.0.0.1:5000 IDP_TEST_HOOKS=1
export IDP_SMS_PROVIDER=http IDP_SMS_HTTP_URL=http://127.0.0.1:3999/sms
export IDP_INSTANCE_DIR=$WORK/instance IDP_KEK_FILE=$WORK/kek.key IDP_SECRET_KEY=bench-secret-key-0123456789abcdef0123456789
export IDP_RATE_LIMIT_PAGES= IDP_RATE_LIMIT_CAPTCHA= IDP_SMS_BUDGET_PER_PHONE=1000000 IDP_SMS_BUDGET_PER_IP=1000000 IDP_SMS_BUDGET_GLOBAL=100000000
export IDP_LOG_FORMAT=json IDP_CODE_TTL=600
SPID=""; DB=""; RPREFIX=""
cleanup() {  # stop the server we started, drop the throwaway database and Redis keys
  if [ -n "$SPID" ]; then kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; fi
  if [ -n "$DB" ]; then
    psql -q -h 127.0.0.1 -U postgres -d test -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null || true
  fi
  if [ -n "$RPREFIX" ]; then
    redis-cli -n 0 --scan --pattern "$RPREFIX*" | xargs -r redis-cli -n 0 unlink >/dev/null || true
  fi
}
trap cleanup EXIT
if [ "$MODE" = pg ]; then
  DB=benchidp_$RANDOM; psql -q -h 127.0.0.1 -U postgres -d test -c "CREATE DATABASE $DB" >/dev/null
  RPREFIX="bench$RANDOM:"
  export IDP_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/$DB IDP_REDIS_URL=redis://127.0.0.1:6379/0 IDP_REDIS_PREFIX=$RPREFIX
else
  export IDP_DATABASE_URL=sqlite:///$WORK/idp.sqlite3
fi
$ROOT/.venv/bin/idp init >/dev/null
cat > $WORK/clients.json <<J
[{"client_id":"bench-es256","client_secret":"bench-secret-0123456789abcdef-0123456789","client_name":"Bench",
  "redirect_uris":["http://127.0.0.1:9/cb"],"grant_types":["authorization_code","refresh_token"],
  "response_types":["code"],"scope":"openid profile phone offline_access","token_endpoint_auth_method":"client_secret_basic"}]
J
$ROOT/.venv/bin/idp clients import $WORK/clients.json >/dev/null
python3 - > $WORK/users.jsonl <<'P'
import json
for i in range(40):
    print(json.dumps({"id_number": f"066200{i:06d}", "full_name": "Nguyễn Văn Bench", "birth_date": "2000-01-01",
                      "gender": "male", "phone": f"09412{i:05d}", "email": None, "password": "Bench-pass-7f3k2-Lua"}))
P
$ROOT/.venv/bin/idp users import $WORK/users.jsonl >/dev/null
cd $ROOT
if [ "${SERVER:-gunicorn}" = granian ]; then
  taskset -c 0 .venv/bin/granian --interface wsgi --workers 1 --blocking-threads ${THREADS:-4} \
    --host 127.0.0.1 --port 5000 --no-ws idp.wsgi:app > $WORK/server.log 2>&1 &
else
  WEB_CONCURRENCY=1 GUNICORN_THREADS=${THREADS:-4} GUNICORN_BIND=127.0.0.1:5000 \
    taskset -c 0 .venv/bin/gunicorn -c config/gunicorn.conf.py idp.wsgi:app > $WORK/server.log 2>&1 &
fi
SPID=$!
for i in $(seq 1 60); do curl -sf http://127.0.0.1:5000/healthz >/dev/null && break; sleep 0.5; done
curl -sf http://127.0.0.1:5000/healthz >/dev/null || { echo "IdP did not start:" >&2; tail -20 $WORK/server.log >&2; exit 1; }
# the server's process for CPU accounting: gunicorn worker = child
sleep 1; WPID=$(pgrep -P $SPID | head -1 || true); [ -n "$WPID" ] || WPID=$SPID
ISSUER=http://127.0.0.1:5000
CLIENT_ID=bench-es256 CLIENT_SECRET=bench-secret-0123456789abcdef-0123456789
COMMON=(--issuer $ISSUER --client-id $CLIENT_ID --client-secret $CLIENT_SECRET
        --redirect-uri http://127.0.0.1:9/cb --users-file $WORK/users.jsonl --interaction oidcbench.interactions:idp
        --sms-sink 127.0.0.1:3999)
source "$ROOT/bench/lib-drive.sh"
MPID=$WPID   # lib-drive.sh counts the CPU and reads the RSS of $MPID: the worker
drive_modes
drive_wrk
API=${API-userinfo:userinfo introspection:introspect} drive_api
write_rss
