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
# The shared provider.mjs with one change: RFC 7662 introspection switched on (off by default
# in node-oidc-provider), so that both OPs answer the introspection workload (drive_api).
sed 's/revocation: { enabled: true },/revocation: { enabled: true }, introspection: { enabled: true },/' \
  "$B/peer-node/provider.mjs" > "$B/peer-node/provider-introspection.mjs"
grep -q "introspection: { enabled: true }" "$B/peer-node/provider-introspection.mjs" \
  || { echo "could not switch on introspection in provider.mjs" >&2; exit 1; }
(cd "$B/peer-node" && NODE_ENV=production PORT=$PORT ID_TOKEN_ALG=$ALG \
   exec taskset -c "${SERVER_CPU:-0}" "$NODE_BIN" provider-introspection.mjs) > "$OUT/server.log" 2>&1 &
MPID=$!   # the node process itself (the subshell execs taskset, which execs node)
trap 'stop_pid "$MPID"' EXIT INT TERM
wait_http "$ISSUER/.well-known/openid-configuration" 20
CLIENT_ID=bench-client CLIENT_SECRET=bench-secret-0123456789abcdef
COMMON=(--issuer "$ISSUER" --client-id $CLIENT_ID --client-secret $CLIENT_SECRET
        --redirect-uri http://127.0.0.1:9/cb --username alice --password correct-horse-battery-staple
        --interaction oidcbench.interactions:peer_node)
source "$ROOT/bench/lib-drive.sh"
drive_modes
drive_wrk
API=${API-userinfo:me introspection:token/introspection} drive_api
write_rss
