#!/usr/bin/env python3
"""Ratio table of a bench/compare.sh run (standard library only).

  compare_table.py RUN_DIR      RUN_DIR holds r<round>-<peer|sqlite|pg>/ folders (driver JSON
                                per workload, wrk-*.json, rss.json), env.json and meta.json

Prints markdown: per workload and concurrency, throughput of the peer and of ours (median
over rounds), ours/peer ratio (median of the per-round ratios, min-max when several rounds:
each round ran peer and ours back to back) and server CPU ms per operation; then each
server's resident memory after its run.
"""

from __future__ import annotations

import glob
import json
import os
import re
import statistics
import sys
from collections import defaultdict

SERVERS = ("peer", "sqlite", "pg")
NAMES = {"peer": "node-oidc-provider", "sqlite": "ours SQLite", "pg": "ours PG+Redis"}
WORKLOADS = [
    ("flow", "flow (full login)"),
    ("sso", "sso"),
    ("token", "token"),
    ("refresh", "refresh"),
    ("openid-configuration", "discovery (wrk)"),
    ("jwks", "JWKS (wrk)"),
    ("userinfo", "userinfo (wrk)"),
    ("introspection", "introspection (wrk)"),
]
LEGEND = (
    "flow: GET /authorize, login pages (password, captcha, SMS OTP for ours), code, "
    "POST /token, userinfo, ID token verified; sso: the same on an existing session (no "
    "login pages); token: POST /token with a code; refresh: POST /token with a refresh "
    "token; discovery and JWKS: wrk -t1 on the static documents; userinfo and introspection: "
    "wrk -t1 with one access token (GET with the bearer token; POST with the client's HTTP "
    "Basic authentication, the reference with its introspection feature switched on)."
)


def load(path):
    with open(path) as f:
        return json.load(f)


def collect(run):
    """{(server, workload, c): {round: {ops, cpu_ms, errors, userinfo_ms}}} and
    {server: {round: rss}}"""
    data, rss = defaultdict(dict), defaultdict(dict)
    for d in sorted(glob.glob(os.path.join(run, "r*-*"))):
        m = re.fullmatch(r"r(\d+)-(\w+)", os.path.basename(d))
        if not m or m.group(2) not in SERVERS:
            continue
        rnd, srv = int(m.group(1)), m.group(2)
        for wl, _ in WORKLOADS[:4]:
            p = os.path.join(d, f"{wl}.json")
            for lv in load(p)["levels"] if os.path.exists(p) else []:
                data[(srv, wl, lv["concurrency"])][rnd] = {
                    "ops": lv["ops_per_s"],
                    "cpu_ms": lv.get("server_cpu_ms_per_op"),
                    "errors": lv["errors"] + lv.get("hard_stopped", 0),
                    "userinfo_ms": (lv.get("steps_p50_ms") or {}).get("t_userinfo"),
                }
        for p in glob.glob(os.path.join(d, "wrk-*-c*.json")):
            wm = re.fullmatch(r"wrk-(.+)-c(\d+)\.json", os.path.basename(p))
            w = load(p)
            cpu = (
                w["server_cpu_s"] * 1000 / w["requests"]
                if w.get("server_cpu_s") is not None and w.get("requests")
                else None
            )
            errs = w.get("non_2xx", 0) + sum((w.get("socket_errors") or {}).values())
            data[(srv, wm.group(1), int(wm.group(2)))][rnd] = {
                "ops": w["requests_per_s"],
                "cpu_ms": cpu,
                "errors": errs,
            }
        if os.path.exists(os.path.join(d, "rss.json")):
            rss[srv][rnd] = load(os.path.join(d, "rss.json"))
    return data, rss


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def num(v, digits=0):
    return "n/a" if v is None else f"{v:,.{digits}f}"


def ratio(ours, peer):
    per_round = [
        ours[r]["ops"] / peer[r]["ops"]
        for r in ours
        if r in peer and ours[r]["ops"] and peer[r]["ops"]
    ]
    if not per_round:
        return "n/a"
    s = f"**{statistics.median(per_round):.2f}×**"
    return s + (f" ({min(per_round):.2f}–{max(per_round):.2f})" if len(per_round) > 1 else "")


def table(run):
    data, rss = collect(run)
    rounds = sorted({r for v in data.values() for r in v})
    out = [
        f"Throughput: operations/s, median of {len(rounds)} round(s); ratio = ours/peer per round "
        "(median, min–max); CPU = server process CPU ms per operation (median); "
        "errors = failed operations + non-2xx + socket errors, all rounds.",
        "",
        "| workload | c | peer /s | SQLite /s | SQLite/peer | PG /s | PG/peer "
        "| CPU ms/op peer | SQLite | PG | errors peer/SQLite/PG |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    concs = sorted({k[2] for k in data})
    for wl, title in WORKLOADS:
        for c in concs:
            cell = {s: data.get((s, wl, c), {}) for s in SERVERS}
            if not any(cell.values()):
                continue
            ops = {s: med(x["ops"] for x in cell[s].values()) for s in SERVERS}
            cpu = {s: med(x["cpu_ms"] for x in cell[s].values()) for s in SERVERS}
            err = "/".join(
                str(sum(x["errors"] for x in cell[s].values())) if cell[s] else "-" for s in SERVERS
            )
            digits = 3 if wl in ("openid-configuration", "jwks") else 2
            out.append(
                f"| {title} | {c} | {num(ops['peer'])} | {num(ops['sqlite'])} | "
                f"{ratio(cell['sqlite'], cell['peer'])} | {num(ops['pg'])} | "
                f"{ratio(cell['pg'], cell['peer'])} | {num(cpu['peer'], digits)} | "
                f"{num(cpu['sqlite'], digits)} | {num(cpu['pg'], digits)} | {err} |"
            )
    ui = {
        s: med(x.get("userinfo_ms") for x in data.get((s, "sso", 1), {}).values()) for s in SERVERS
    }
    out += [
        "",
        LEGEND,
        "",
        "Userinfo's median latency inside the SSO rounds at c=1 (ms): "
        + ", ".join(f"{NAMES[s]} {num(ui[s], 2)}" for s in SERVERS)
        + ".",
        "",
        "| server memory after the run (VmRSS; peak VmHWM) | "
        + " | ".join(NAMES[s] for s in SERVERS)
        + " |",
        "|---|---|---|---|",
    ]
    mib = {
        s: (
            med(x["vmrss_kb"] for x in rss[s].values()),
            med(x["vmhwm_kb"] for x in rss[s].values()),
        )
        for s in SERVERS
    }
    out.append(
        "| MiB (median of rounds) | "
        + " | ".join(
            "n/a" if mib[s][0] is None else f"{mib[s][0] / 1024:.0f} ({mib[s][1] / 1024:.0f})"
            for s in SERVERS
        )
        + " |"
    )
    return out


def machine(run):
    e = load(os.path.join(run, "env.json")) if os.path.exists(os.path.join(run, "env.json")) else {}
    m = (
        load(os.path.join(run, "meta.json"))
        if os.path.exists(os.path.join(run, "meta.json"))
        else {}
    )
    return [
        f"Machine: {e.get('cpu_model')}, {e.get('nproc')} cores, kernel {e.get('kernel')}, "
        f"load average at start {m.get('loadavg')}; date {e.get('date')}.",
        f"Peer: node-oidc-provider {(e.get('npm_packages') or {}).get('oidc-provider')} on node "
        f"{e.get('node')} (in-memory adapter). Ours: {m.get('idp_commit')}"
        f"{' + uncommitted changes' if m.get('idp_dirty') else ''}, python {m.get('idp_python')}, "
        "one gunicorn worker (gthread, 4 threads). Driver: python "
        f"{e.get('python')}. Server on CPU 0, driver and wrk on CPU 1.",
        f"Run: `{m.get('command')}` ({m.get('knobs')}), raw results {run}.",
        "",
    ]


def main():
    run = sys.argv[1]
    m = (
        load(os.path.join(run, "meta.json"))
        if os.path.exists(os.path.join(run, "meta.json"))
        else {}
    )
    head = ["<!-- generated by bench/compare.sh (bench/compare_table.py) -->"]
    if m.get("quick"):
        head += ["**QUICK smoke run: small counts, figures not representative.**", ""]
    print("\n".join(head + machine(run) + table(run)))


if __name__ == "__main__":
    main()
