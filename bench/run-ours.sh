#!/usr/bin/env bash
# Our IdP under the shared benchmark driver (../shared/bench), for same-run comparisons with
# node-oidc-provider (its run-peer.sh): one gunicorn worker pinned to CPU 0, the driver on
# CPU 1, as run-peer.sh does. BENCH = a writable copy of ../shared/bench after its setup.sh
# (the shared folder is read-only). MODE=pg (PostgreSQL + Redis on the standard local ports,
# default) or sqlite; MODES ("token refresh sso"), OPS, SECS, CONC (e.g. 1,16), THREADS.
# Development settings with the test hooks (captcha answers) and the driver's SMS sink: a
# throwaway database, never a real one.
set -euo pipefail
B=${BENCH:-/tmp/bench}; PY=$B/.venv/bin/python; ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODE=${MODE:-pg}; OPS=${OPS:-2000}; SECS=${SECS:-15}; TAG=${TAG:-ours}
WORK=/tmp/benchidp; rm -rf $WORK; mkdir -p $WORK/out
export IDP_ENV=development IDP_ISSUER=http://127.0.0.1:5000 IDP_TEST_HOOKS=1
export IDP_SMS_PROVIDER=http IDP_SMS_HTTP_URL=http://127.0.0.1:3999/sms
export IDP_INSTANCE_DIR=$WORK/instance IDP_KEK_FILE=$WORK/kek.key IDP_SECRET_KEY=bench-secret-key-0123456789abcdef0123456789
export IDP_RATE_LIMIT_PAGES= IDP_RATE_LIMIT_CAPTCHA= IDP_SMS_BUDGET_PER_PHONE=1000000 IDP_SMS_BUDGET_PER_IP=1000000 IDP_SMS_BUDGET_GLOBAL=100000000
export IDP_LOG_FORMAT=json IDP_CODE_TTL=600
if [ "$MODE" = pg ]; then
  DB=benchidp_$RANDOM; psql -q -h 127.0.0.1 -U postgres -d test -c "CREATE DATABASE $DB" >/dev/null
  export IDP_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/$DB IDP_REDIS_URL=redis://127.0.0.1:6379/0 IDP_REDIS_PREFIX="bench$RANDOM:"
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
WEB_CONCURRENCY=1 GUNICORN_THREADS=${THREADS:-4} GUNICORN_BIND=127.0.0.1:5000 \
  taskset -c 0 .venv/bin/gunicorn -c config/gunicorn.conf.py idp.wsgi:app > $WORK/server.log 2>&1 &
SPID=$!
trap 'kill $SPID 2>/dev/null; wait $SPID 2>/dev/null; [ "$MODE" = pg ] && psql -q -h 127.0.0.1 -U postgres -d test -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null; true' EXIT
for i in $(seq 1 60); do curl -sf http://127.0.0.1:5000/healthz >/dev/null && break; sleep 0.5; done
# the server's process for CPU accounting: gunicorn worker = child
sleep 1; WPID=$(pgrep -P $SPID | head -1 || true); [ -n "$WPID" ] || WPID=$SPID
COMMON=(--issuer http://127.0.0.1:5000 --client-id bench-es256 --client-secret bench-secret-0123456789abcdef-0123456789
        --redirect-uri http://127.0.0.1:9/cb --users-file $WORK/users.jsonl --interaction oidcbench.interactions:idp
        --sms-sink 127.0.0.1:3999 --server-pid $WPID)
cd $B
for m in ${MODES:-token refresh sso}; do
  echo "== $TAG $m"
  taskset -c 1 $PY driver/run_flows.py "${COMMON[@]}" --mode $m --concurrency ${CONC:-1,16} --max-ops $OPS --max-seconds $SECS --label "$TAG $m" --out $WORK/out/$m.json 2>&1 | tail -${TAILN:-6}
done
