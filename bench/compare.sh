#!/usr/bin/env bash
# Same-run comparison of this IdP with the reference OP, node-oidc-provider (issue 14):
#
#   bench/compare.sh             full run, ~20-25 min on 2 cores: 2 rounds
#   QUICK=1 bench/compare.sh     smoke run (1 round, small counts), ~2-3 min
#
# Each round runs, back to back and under the same load: the peer (bench/run-peer-node.sh),
# ours on SQLite, ours on PostgreSQL + Redis (bench/run-ours.sh MODE=sqlite / MODE=pg), each a
# freshly started server pinned to CPU 0 with the driver and wrk pinned to CPU 1. Rounds
# alternate (peer, ours, peer, ours, ...) so that a change of machine load shows up as spread
# in the per-round ratios. Workloads (bench/lib-drive.sh): full login flow, SSO round, token
# exchange, refresh at c=1 and c=16 (the shared driver), then wrk on the discovery document and
# the JWKS at c=1 and c=16; each server's RSS is read after its run.
# Prints one markdown table of ratios (bench/compare_table.py) and writes it with the machine
# description to bench/results/last-run.md (QUICK: bench/results/last-quick.md, not kept in
# git); raw JSON stays under $BENCH/results/raw/compare-<date>/.
#
# Needs: PostgreSQL (user postgres, database `test`) and Redis on the standard local ports;
# ports 3000, 5000, 3999 free. Copies the read-only shared bench (SHARED_BENCH, default
# ../shared/bench next to this checkout) to BENCH (default /tmp/bench) and runs its setup.sh
# there if not done yet (driver venv, node_modules, Node 22, wrk); makes sure .venv is installed.
# Knobs (env): QUICK, ROUNDS (2), SERVERS ("peer sqlite pg"), MODES ("flow sso token refresh"),
# CONC (1,16), OPS (5000), TOKEN_OPS (2000), SECS (15), WARMUP (200), PREGEN (sso: codes for
# the token workload come from logged-in user agents, not a login each), WRK_CONC ("1 16"),
# WRK_SECONDS (10); see bench/lib-drive.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export BENCH=${BENCH:-/tmp/bench}
SHARED_BENCH=${SHARED_BENCH:-$(cd "$ROOT/.." && pwd)/shared/bench}
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  : "${ROUNDS:=1}" "${OPS:=200}" "${TOKEN_OPS:=200}" "${SECS:=4}" "${WARMUP:=20}" \
    "${WRK_SECONDS:=2}" "${WRK_WARMUP:=1}"
fi
export ROUNDS=${ROUNDS:-2} MODES=${MODES:-flow sso token refresh} CONC=${CONC:-1,16}
export OPS=${OPS:-5000} TOKEN_OPS=${TOKEN_OPS:-2000} SECS=${SECS:-15} WARMUP=${WARMUP:-200}
export PREGEN=${PREGEN:-sso} WRK_CONC=${WRK_CONC:-1 16} WRK_SECONDS=${WRK_SECONDS:-10}
export WRK_WARMUP=${WRK_WARMUP:-2}
SERVERS=${SERVERS:-peer sqlite pg}
T0=$(date +%s)
CMD=bench/compare.sh; [ "$QUICK" = 1 ] && CMD="QUICK=1 $CMD"

# --- the driver: a writable, set-up copy of the shared bench ----------------------------------
if [ ! -x "$BENCH/.venv/bin/python" ] || [ ! -d "$BENCH/peer-node/node_modules/oidc-provider" ] \
    || ! command -v wrk >/dev/null; then
  echo "setting up the driver in $BENCH (copy of $SHARED_BENCH) ..."
  mkdir -p "$BENCH"
  cp -rn "$SHARED_BENCH/." "$BENCH/"
  chmod -R u+w "$BENCH"
  "$BENCH/setup.sh"
fi
# --- our venv ---------------------------------------------------------------------------------
(cd "$ROOT" && source .ci/venv.sh && ensure_venv "[test]")

RUN=$BENCH/results/raw/compare-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN"
"$BENCH/.venv/bin/python" "$BENCH/tools/env_info.py" \
  --node "$BENCH/peer-node/node22/node_modules/.bin/node" > "$RUN/env.json"
"$ROOT/.venv/bin/python" - "$RUN/meta.json" <<P
import json, os, platform, subprocess, sys
git = lambda *a: subprocess.run(["git", "-C", "$ROOT", *a], capture_output=True, text=True).stdout.strip()
json.dump({"quick": "$QUICK" == "1", "idp_commit": git("rev-parse", "--short=12", "HEAD"),
           "idp_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
           "idp_python": platform.python_version(), "loadavg": [round(x, 2) for x in os.getloadavg()],
           "command": "$CMD",
           "knobs": "ROUNDS=$ROUNDS MODES='$MODES' CONC=$CONC OPS=$OPS TOKEN_OPS=$TOKEN_OPS "
                    "SECS=$SECS WARMUP=$WARMUP PREGEN=$PREGEN WRK_CONC='$WRK_CONC' WRK_SECONDS=$WRK_SECONDS"},
          open(sys.argv[1], "w"), indent=1)
P

# --- the rounds: peer, ours SQLite, ours PG + Redis; again ------------------------------------
for round in $(seq 1 "$ROUNDS"); do
  for srv in $SERVERS; do
    echo "### round $round/$ROUNDS: $srv ($(( $(date +%s) - T0 )) s)"
    out=$RUN/r$round-$srv
    if [ "$srv" = peer ]; then
      OUT=$out TAG="peer r$round" WRK_PATHS=".well-known/openid-configuration jwks" \
        "$ROOT/bench/run-peer-node.sh"
    else
      OUT=$out TAG="$srv r$round" MODE=$srv WRK_PATHS=".well-known/openid-configuration jwks.json" \
        "$ROOT/bench/run-ours.sh"
    fi
  done 2>&1 | tee -a "$RUN/log.txt"
done

# --- the table --------------------------------------------------------------------------------
NAME=last-run.md; [ "$QUICK" = 1 ] && NAME=last-quick.md
mkdir -p "$ROOT/bench/results"
python3 "$ROOT/bench/compare_table.py" "$RUN" > "$ROOT/bench/results/$NAME"
echo
cat "$ROOT/bench/results/$NAME"
echo
echo "written: bench/results/$NAME (raw: $RUN, $(( $(date +%s) - T0 )) s)"
