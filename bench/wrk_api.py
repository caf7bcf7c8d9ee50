"""wrk on an endpoint that needs a credential (issue 14): GET userinfo with a bearer token,
or POST introspection with the client's HTTP Basic authentication and the token in the body.
The same measurement as the shared tools/wrk_run.py (its output parser and the server's CPU
accounting, imported from BENCH), with a wrk Lua script for the method, headers and body.

  wrk_api.py --kind userinfo|introspection --url URL --token T [--client-id I
             --client-secret S] --connections 16 --duration 10 --server-pid PID --label L
             --out wrk-userinfo-c16.json
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from urllib.parse import quote, urlsplit

B = os.environ.get("BENCH", "/tmp/bench")
sys.path.insert(0, os.path.join(B, "tools"))
sys.path.insert(0, os.path.join(B, "driver"))
from oidcbench.runner import proc_tree_cpu  # noqa: E402
from wrk_run import parse  # noqa: E402


def lua(kind: str, token: str, client_id: str, secret: str) -> str:
    if kind == "userinfo":
        return f'wrk.method = "GET"\nwrk.headers["Authorization"] = "Bearer {token}"\n'
    basic = base64.b64encode(f"{quote(client_id)}:{quote(secret)}".encode()).decode()
    return (f'wrk.method = "POST"\nwrk.headers["Authorization"] = "Basic {basic}"\n'
            'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
            f'wrk.body = "token={quote(token)}&token_type_hint=access_token"\n')


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--kind", choices=["userinfo", "introspection"], required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--client-id", default="")
    p.add_argument("--client-secret", default="")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--server-pid", default="")
    p.add_argument("--label", default="")
    p.add_argument("--out")
    a = p.parse_args()
    if urlsplit(a.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("loopback targets only")
    if not 1 <= a.duration <= 120:
        raise SystemExit("--duration must be 1..120 s")
    pids = [int(x) for x in a.server_pid.split(",") if x]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua(a.kind, a.token, a.client_id, a.client_secret))
    try:
        base = ["wrk", "-t1", f"-c{a.connections}", "-s", f.name, "--timeout", "5s"]
        if a.warmup:
            subprocess.run([*base, f"-d{a.warmup}s", a.url], capture_output=True,
                           timeout=a.warmup + 30)
        cmd = [*base, f"-d{a.duration}s", "--latency", a.url]
        s0 = proc_tree_cpu(pids)
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=a.duration + 30).stdout
        wall = time.perf_counter() - t0
        s1 = proc_tree_cpu(pids)
    finally:
        os.unlink(f.name)
    r = {"label": a.label, "url": a.url, "kind": a.kind, "cmd": " ".join(cmd),
         **parse(out), "wall_s": round(wall, 3)}
    if s0 is not None and s1 is not None:
        r["server_cpu_s"] = round(s1 - s0, 3)
        r["server_cpu_util"] = round((s1 - s0) / a.duration, 3)
    print(f"{a.label}: {r['requests_per_s']} req/s, p50 {r.get('p50_ms')} ms, "
          f"non-2xx {r['non_2xx']}, server cpu {r.get('server_cpu_util')}", flush=True)
    if a.out:
        with open(a.out, "w") as fh:
            json.dump({**r, "raw": out}, fh, indent=1)


if __name__ == "__main__":
    main()
