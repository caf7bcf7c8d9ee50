"""First run (issue 12 item 6): `./run` from the working tree with the existing .venv, on free
ports and a private instance folder — the README's first command as a newcomer meets it.

Measured: the time from starting ./run to discovery answering (printed and kept in
tests/system/.results/faults.json, section first_run). Checked: no development-server warning
anywhere in the output or the portals' and stand-ins' logs, the IdP and the portals are gunicorn
servers (the stand-ins of the certificate carriers are not: they play outside services, each one
small Python process — the SIM and SmartCA ones on werkzeug, the USB plugin a websocket
server), `/` is the landing page (both portals, the SMS page, the demo accounts), both portals
and the three stand-ins answer at the addresses the banner prints, the outbox worker thread
starts in the IdP's worker on its first request, and Ctrl+C (SIGINT to the terminal's process
group) stops everything: ./run exits, no process of its group is left, the ports are free.
`idp demo reset` then erases that instance. Every wait is bounded."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.system.checks import record

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("system")]

ROOT = Path(__file__).resolve().parents[2]
# ./run reinstalls into .venv when setup.cfg changed since the last install: allow for that.
START_TIMEOUT = 240
STOP_TIMEOUT = 20
DEMO_CITIZENS = [json.loads(line) for line in
                 (ROOT / "idp/data/demo_citizens.jsonl").read_text().splitlines() if line]


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def group_commands(pgid: int) -> list[str]:
    out = subprocess.run(["ps", "-o", "pgid=,args=", "-e"], capture_output=True, text=True,
                         timeout=10).stdout
    return [line.split(None, 1)[1] for line in out.splitlines()
            if line.split(None, 1)[0] == str(pgid) and len(line.split(None, 1)) > 1]


def refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


def run_env(tmp_path: Path, ports: list[int]) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("IDP_", "PORTAL_", "GUNICORN_", "WEB_CONCURRENCY",
                                "PROMETHEUS_", "STANDIN_"))}
    env.update(IDP_INSTANCE_DIR=str(tmp_path / "instance"), IDP_KEK_FILE=str(tmp_path / "kek"),
               IDP_PORT=str(ports[0]), PORTAL_DAKLAK_PORT=str(ports[1]),
               PORTAL_QUOCGIA_PORT=str(ports[2]), STANDIN_USB_PORT=str(ports[3]),
               STANDIN_SMARTCA_PORT=str(ports[4]), STANDIN_SIM_PORT=str(ports[5]),
               STANDIN_VNEID_PORT=str(ports[6]))
    return env


def _default_sigint():
    # As in a terminal: a test runner started in the background may ignore SIGINT, and a
    # shell cannot trap a signal ignored on entry.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_run_serves_with_gunicorn_and_stops_on_ctrl_c(tmp_path):
    if not (ROOT / ".venv/bin/python").exists():
        pytest.skip("needs the project's .venv (./run would create it: minutes)")
    ports = free_ports(7)  # IdP, two portals, USB plugin, SmartCA, SIM and VNeID stand-ins
    issuer = f"http://127.0.0.1:{ports[0]}"
    env = run_env(tmp_path, ports)
    lines: list[str] = []
    started = time.monotonic()
    proc = subprocess.Popen(["./run"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, preexec_fn=_default_sigint)
    pgid = proc.pid
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        # --- time to discovery
        discovery = None
        while time.monotonic() - started < START_TIMEOUT:
            assert proc.poll() is None, "./run stopped:\n" + "".join(lines)
            try:
                r = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=2)
                if r.status_code == 200:
                    discovery = time.monotonic() - started
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        assert discovery is not None, "no discovery within the limit:\n" + "".join(lines)
        assert r.json()["issuer"] == issuer
        deadline = time.monotonic() + 60
        while not any("Stop: Ctrl+C" in line for line in lines):
            assert time.monotonic() < deadline, "no banner:\n" + "".join(lines)
            time.sleep(0.1)
        banner = time.monotonic() - started
        record("first_run", "run_to_discovery", {"discovery_s": discovery, "banner_s": banner})

        # --- what a newcomer opens
        output = "".join(lines)
        assert f"{issuer}/_dev/sms" in output and f"{issuer}/" in output
        landing = requests.get(f"{issuer}/", timeout=10)
        assert landing.status_code == 200
        html = landing.text
        for port in ports[1:3]:
            assert f'href="http://127.0.0.1:{port}"' in html
            assert requests.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200
        assert 'href="/_dev/sms"' in html
        assert requests.get(f"{issuer}/_dev/sms", timeout=10).status_code == 200
        assert all(c["id_number"] in html and c["password"] in html for c in DEMO_CITIZENS)
        # The stand-ins: the plugin's address and the "phone" pages of SIM and SmartCA, whose
        # CRL route serves what the demo certificates name.
        usb, smartca, sim, vneid = ports[3:]
        assert f"ws://127.0.0.1:{usb}/plugin" in output
        # VNeID: its address is printed and the login page offers it
        assert f"http://127.0.0.1:{vneid}/" in output
        assert requests.get(f"http://127.0.0.1:{vneid}/_control/settings",
                            timeout=10).status_code == 200
        cccd = DEMO_CITIZENS[0]["id_number"]
        for port in (sim, smartca):
            assert f"http://127.0.0.1:{port}/_phone/" in output
            assert requests.get(f"http://127.0.0.1:{port}/_phone/{cccd}",
                                timeout=10).status_code == 200
        assert requests.get(f"http://127.0.0.1:{sim}/_pki/crl/vnpt.crl",
                            timeout=10).status_code == 200
        # The plugin: a websocket server, whose other paths answer 404 (a bare connect without
        # a request would be logged as a failed handshake).
        assert requests.get(f"http://127.0.0.1:{usb}/", timeout=10).status_code == 404

        # --- the production server, the outbox thread
        commands = group_commands(pgid)
        servers = [c for c in commands if "gunicorn" in c]
        assert len(servers) >= 6, commands  # three masters, three workers
        assert not any("flask" in c and " run" in c for c in commands), commands
        deadline = time.monotonic() + 10
        while "started in the app process" not in "".join(lines):
            assert time.monotonic() < deadline, "no outbox worker thread:\n" + "".join(lines)
            time.sleep(0.1)
        logs = "".join(p.read_text() for folder in ("portals", "standins")
                       for p in (tmp_path / "instance" / folder).glob("*.log"))
        for text in ("".join(lines), logs):
            assert "development server" not in text.lower()
            assert "Traceback" not in text

        # --- Ctrl+C
        stopping = time.monotonic()
        os.killpg(pgid, signal.SIGINT)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail("./run still running after Ctrl+C: " + repr(group_commands(pgid)))
        deadline = time.monotonic() + STOP_TIMEOUT
        while group_alive(pgid):
            assert time.monotonic() < deadline, f"left behind: {group_commands(pgid)}"
            time.sleep(0.1)
        stopped = time.monotonic() - stopping
        record("first_run", "ctrl_c_to_stopped", {"seconds": stopped})
        assert all(refuses(port) for port in ports)
        assert proc.returncode in (0, 130), (proc.returncode, "".join(lines))
    finally:
        if group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
        proc.wait(10)
        reader.join(5)

    # --- and start again from nothing
    reset = subprocess.run([str(ROOT / ".venv/bin/idp"), "demo", "reset", "--yes"], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=120)
    assert reset.returncode == 0, reset.stderr
    # The database, the cookie key and both portals' folders at least.
    erased = re.search(r"demo data erased \((\d+) files or folders\)", reset.stdout)
    assert erased and int(erased[1]) >= 4, reset.stdout
    assert "demo citizens: 5 added" in reset.stdout
    assert not (tmp_path / "instance/portals/daklak").exists()
