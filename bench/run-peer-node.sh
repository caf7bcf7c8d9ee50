#!/usr/bin/env bash
# The reference OP, node-oidc-provider (the shared bench's peer-node/provider.mjs, in-memory
# adapter, Node 22 from its setup.sh), under exactly the load run-ours.sh puts on our IdP:
# same driver, same knobs (bench/lib-drive.sh), server pinned to CPU 0 and driver to CPU 1,
# started and stopped with the shared tools/lib.sh helpers as the shared run-peer.sh does.
# One server for all workloads (as run-ours.sh), its RSS read after the load.
# BENCH = the set-up copy of ../shared/bench (default /tmp/bench); OUT = result folder
# (default $BENCH/results/raw/peer-same); ALG (ES256); PORT (3000); NODE_BIN (auto: Node 22).
set -euo pipefail
B=${BENCH:-/tmp/bench}; ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$B/tools/lib.sh"   # BENCH, PY, need, wait_http, port_free, stop_pid
need curl; need wrk; need taskset
TAG=${TAG:-peer}; ALG=${ALG:-ES256}; PORT=${PORT:-3000}; OUT=${OUT:-$B/results/raw/peer-same}
mkdir -p "$OUT"
if [ "${NODE_BIN:-auto}" = auto ]; then
  NODE_BIN=$B/peer-node/node22/node_modules/.bin/node
  [ -x "$NODE_BIN" ] || NODE_BIN=$(command -v node)
fi
ISSUER=http://127.0.0.1:$PORT
port_free "$PORT"
(cd "$B/peer-node" && NODE_ENV=production PORT=$PORT ID_TOKEN_ALG=$ALG \
   exec taskset -c "${SERVER_CPU:-0}" "$NODE_BIN" provider.mjs) > "$OUT/server.log" 2>&1 &
MPID=$!   # the node process itself (the subshell execs taskset, which execs node)
trap 'stop_pid "$MPID"' EXIT INT TERM
wait_http "$ISSUER/.well-known/openid-configuration" 20
COMMON=(--issuer "$ISSUER" --client-id bench-client --client-secret bench-secret-0123456789abcdef
        --redirect-uri http://127.0.0.1:9/cb --username alice --password correct-horse-battery-staple
        --interaction oidcbench.interactions:peer_node)
source "$ROOT/bench/lib-drive.sh"
drive_modes
drive_wrk
write_rss
