# shellcheck shell=bash
# Sourced by run-ours.sh and run-peer-node.sh: the same load, pinned the same way, for any OP.
# The caller sets: B (the set-up driver copy), PY (its python), ISSUER, OUT (result folder),
# TAG, COMMON (driver arguments naming the OP, its client and its users), MPID (pid of the
# server process whose CPU is counted and whose RSS is read).
# Knobs (env): MODES ("token refresh sso"), CONC (1,16), OPS (2000), TOKEN_OPS (OPS), SECS (15),
# WARMUP (200 full flows, or SSO rounds, untimed, before the first workload; WARMUP_NEXT (0)
# before each later one: the same server ran the earlier ones), PREGEN (flow: how the
# token workload gets its codes, see the driver's --pregen), WRK_PATHS (static documents, empty =
# no wrk), WRK_CONC ("16"), WRK_SECONDS (10), DRIVER_CPU (1), TAILN (driver lines shown).

# drive_modes: one driver run per workload (bounded by --max-ops AND --max-seconds)
drive_modes() {
  local m ops warm=${WARMUP:-200}
  for m in ${MODES:-token refresh sso}; do
    ops=${OPS:-2000}; [ "$m" = token ] && ops=${TOKEN_OPS:-$ops}
    echo "== $TAG $m"
    (cd "$B" && taskset -c "${DRIVER_CPU:-1}" "$PY" driver/run_flows.py "${COMMON[@]}" \
      --server-pid "$MPID" --mode "$m" --concurrency "${CONC:-1,16}" --max-ops "$ops" \
      --max-seconds "${SECS:-15}" --warmup "$warm" --pregen "${PREGEN:-flow}" \
      --label "$TAG $m" --out "$OUT/$m.json") 2>&1 | tail -"${TAILN:-6}"
    warm=${WARMUP_NEXT:-0}
  done
}

# drive_wrk: wrk on each static document, pinned to DRIVER_CPU like the shared run-peer.sh:
# a bounded untimed warm-up, then tools/wrk_run.py (bounded by --duration and a hard timeout)
drive_wrk() {
  local path c short
  for path in ${WRK_PATHS:-}; do
    short=${path##*/}; short=${short#.}; short=${short%.json}
    for c in ${WRK_CONC:-16}; do
      taskset -c "${DRIVER_CPU:-1}" wrk -t1 -c"$c" -d"${WRK_WARMUP:-2}"s "$ISSUER/$path" >/dev/null
      taskset -c "${DRIVER_CPU:-1}" "$PY" "$B/tools/wrk_run.py" --url "$ISSUER/$path" \
        --connections "$c" --threads 1 --duration "${WRK_SECONDS:-10}" --server-pid "$MPID" \
        --label "$TAG wrk $short c=$c" --out "$OUT/wrk-$short-c$c.json"
    done
  done
}

# drive_api: wrk on the endpoints that take a credential (API: "userinfo:PATH
# introspection:PATH", empty = none), with one access token from one login through the driver
# (bench/mint_token.py; the caller also sets CLIENT_ID and CLIENT_SECRET), at each WRK_CONC.
drive_api() {
  local token spec kind c
  [ -n "${API:-}" ] || return 0
  token=$(cd "$B" && BENCH=$B taskset -c "${DRIVER_CPU:-1}" "$PY" "$ROOT/bench/mint_token.py" \
    "${COMMON[@]}" | tail -1)
  for spec in $API; do
    kind=${spec%%:*}
    for c in ${WRK_CONC:-16}; do
      BENCH=$B taskset -c "${DRIVER_CPU:-1}" "$PY" "$ROOT/bench/wrk_api.py" --kind "$kind" \
        --url "$ISSUER/${spec#*:}" --token "$token" --client-id "$CLIENT_ID" \
        --client-secret "$CLIENT_SECRET" --connections "$c" --duration "${WRK_SECONDS:-10}" \
        --warmup "${WRK_WARMUP:-2}" --server-pid "$MPID" --label "$TAG wrk $kind c=$c" \
        --out "$OUT/wrk-$kind-c$c.json"
    done
  done
}

# write_rss: the server process's resident memory now (after the load), into $OUT/rss.json
write_rss() {
  local rss hwm
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$MPID/status")
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$MPID/status")
  printf '{"pid": %s, "vmrss_kb": %s, "vmhwm_kb": %s}\n' "$MPID" "$rss" "$hwm" > "$OUT/rss.json"
  echo "== $TAG server RSS $((rss / 1024)) MiB (peak $((hwm / 1024)) MiB)"
}
