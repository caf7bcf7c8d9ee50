"""Private, real services for the system tests: PostgreSQL (initdb + pg_ctl), Redis
(redis-server), nginx as the round-robin load balancer, two IdP nodes (gunicorn with
config/gunicorn.conf.py, each with an `idp worker` delivering the outbox), and a fake carrier
(SMS gateway + KYC + back-channel receiver).

Everything runs on loopback on free ports under one temporary directory and is removed at
the end; the machine's shared PostgreSQL and Redis are never touched. Faults are injected by
stopping, killing, pausing and restarting these processes, and by switching the carrier's
answers (fail with HTTP 500, hang longer than the IdP's timeout, answer late).
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from tests.support.apps import free_port

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("IDP_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
NGINX = os.environ.get("IDP_TEST_NGINX", "/usr/sbin/nginx")
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
IDP_CLI = str(Path(sys.executable).with_name("idp"))
GUNICORN_CONF = ROOT / "config" / "gunicorn.conf.py"
DEMO_CLIENTS = ROOT / "idp" / "data" / "demo_clients.json"
DEMO_CITIZENS = ROOT / "idp" / "data" / "demo_citizens.jsonl"
DEMO_REGISTRY = ROOT / "idp" / "data" / "kyc_registry.csv"

# Timeouts the nodes run with: small, so that every fault test is quick and its bound tight.
SMS_TIMEOUT = 2
KYC_TIMEOUT = 2
REDIS_TIMEOUT = 0.5
DB_CONNECT_TIMEOUT = 2
DB_POOL_TIMEOUT = 2
DB_STATEMENT_TIMEOUT_MS = 5000


def missing_tools() -> list[str]:
    """What this machine lacks to run the system tests."""
    missing = [str(p) for p in (PG_BIN / "initdb", PG_BIN / "pg_ctl", Path(NGINX),
                                Path(REDIS_SERVER)) if not os.access(p, os.X_OK)]
    if os.geteuid() == 0 and not shutil.which("runuser"):
        missing.append("runuser (to run PostgreSQL as the postgres user)")
    return missing


class Gone(BaseException):
    """Raised by a wait_until predicate when waiting longer is pointless (the process it
    waits for has exited); not caught by wait_until."""


def wait_until(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll `predicate` until it returns something truthy (exceptions count as "not yet");
    returns (value, seconds waited)."""
    start = time.monotonic()
    while True:
        try:
            value = predicate()
        except Exception:  # noqa: BLE001 - "not yet" (connection refused, ...)
            value = None
        if value:
            return value, time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------- PostgreSQL

class Postgres:
    """A private PostgreSQL cluster (trust authentication, loopback TCP + a socket in its own
    folder). As root, initdb/pg_ctl run as the `postgres` OS user (initdb refuses root)."""

    def __init__(self, base: Path, port: int):
        self.dir = base / "pg"
        self.data = self.dir / "data"
        self.sockets = self.dir / "sock"
        self.log = self.dir / "postgres.log"
        self.port = port
        self.url = f"postgresql://postgres@127.0.0.1:{port}/idp"
        self.paused: list[int] = []  # processes stopped by pause()

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({result.returncode}): "
                               f"{result.stderr.strip() or result.stdout.strip()}\n"
                               f"{_tail(self.log)}")
        return result

    def create(self) -> None:
        self.sockets.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            shutil.chown(self.sockets, "postgres", "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
        self.start()
        self._run(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", "postgres", "idp")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=60 -c shared_buffers=16MB")
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
                  "-t", "30", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def pause(self) -> None:
        """SIGSTOP to the postmaster, then to every process it started (each backend is its
        own process group, so one killpg is not enough): connections stay open, nothing
        answers, a frozen server. The postmaster first, so no new child appears meanwhile."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGSTOP)
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        self.paused = [pid] + [int(c) for c in children]
        for child in self.paused[1:]:
            try:
                os.kill(child, signal.SIGSTOP)
            except ProcessLookupError:
                pass

    def resume(self) -> None:
        for pid in self.paused:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.paused = []

    def running(self) -> bool:
        cmd = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "status"]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        return subprocess.run(cmd, capture_output=True).returncode == 0

    def connect(self):
        """A psycopg connection of the test's own (not through the IdP)."""
        import psycopg
        return psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=idp",
                               connect_timeout=3)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.connect() as conn:
            return conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: tuple = ()):
        return self.query(sql, params)[0][0]

    def destroy(self) -> None:
        self.resume()
        if self.data.exists() and self.running():
            try:
                self.stop("immediate")
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass


# --------------------------------------------------------------------------- Redis

class Redis:
    """A private redis-server without persistence, as a child process (so "Redis stopped" is a
    SIGKILL and "Redis back" a new process on the same port, with empty memory)."""

    def __init__(self, base: Path, port: int):
        self.dir = base / "redis"
        self.dir.mkdir()
        self.log = self.dir / "redis.log"
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen | None = None
        self.paused = False

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", str(self.dir),
             "--logfile", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(self.ping, 10, what=f"redis-server on port {self.port}")

    def ping(self) -> bool:
        import redis
        return redis.Redis(port=self.port, socket_timeout=0.5).ping()

    def client(self):
        import redis
        return redis.Redis(port=self.port, socket_timeout=1, decode_responses=True)

    def kill(self) -> None:
        """SIGKILL: the server vanishes with everything in it, as in a crash."""
        if self.proc and self.proc.poll() is None:
            self.resume()
            self.proc.kill()
            self.proc.wait(10)

    def pause(self) -> None:
        """SIGSTOP: connections stay open but nothing answers (a hung server)."""
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        if self.paused and self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and not self.paused


# --------------------------------------------------------------------------- fake carrier

@dataclass
class Sms:
    node: str
    to: str
    text: str
    message_id: str
    at: float

    @property
    def code(self) -> str | None:
        m = re.search(r"\b(\d{6})\b", self.text)
        return m.group(1) if m else None


class Carrier:
    """The carrier as the IdP sees it, on one HTTP server (CONTRACT.md §4, §5):

    - POST /sms/<node>  the SMS gateway ({"message_id", "to", "text"}); `sms_mode` is "ok",
      "fail" (HTTP 500), or "hang" (answers only after the IdP has given up); `sms_delay`
      makes an accepted message take that long (graceful-shutdown test);
    - POST /kyc/<node>  the subscriber check ({"msisdn", "id_number", "full_name",
      "birth_date"} -> {"match": bool}); `kyc_mode` as above;
    - POST /backchannel/<client_id>  a portal's back-channel logout receiver (200), recording
      the token on arrival and answering after `backchannel_delay`.

    Each node gets its own path, so the test knows which node sent what."""

    HANG = max(SMS_TIMEOUT, KYC_TIMEOUT) + 1.5

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.sent: list[Sms] = []
        self.sms_attempts: list[tuple[str, str]] = []  # (node, mode) of every POST /sms
        self.kyc_attempts: list[tuple[str, str]] = []
        self.logout_tokens: list[tuple[str, str]] = []
        self.sms_started = threading.Event()  # set when an SMS request arrives
        self.subscribers: dict[str, dict] = {}
        self._load_registry(DEMO_REGISTRY)
        self.reset()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reset(self) -> None:
        self.sms_mode, self.kyc_mode, self.sms_delay = "ok", "ok", 0.0
        self.backchannel_delay = 0.0
        self.last_sms_node = None
        self.sms_started.clear()

    def _load_registry(self, path: Path) -> None:
        import csv
        with open(path, encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                self.add_subscriber(row["msisdn"], row["id_number"], row["full_name"],
                                    row["birth_date"])

    @staticmethod
    def _e164(msisdn: str) -> str:
        msisdn = msisdn.strip()
        return "+84" + msisdn[1:] if msisdn.startswith("0") else msisdn

    def add_subscriber(self, msisdn, id_number, full_name, birth_date) -> None:
        self.subscribers[self._e164(msisdn)] = {"id_number": id_number, "full_name": full_name,
                                                "birth_date": birth_date}

    def kyc_match(self, body: dict) -> bool:
        import unicodedata

        def norm(text):
            return " ".join(unicodedata.normalize("NFC", text or "").casefold().split())
        row = self.subscribers.get(self._e164(body.get("msisdn") or ""))
        return bool(row and row["id_number"] == body.get("id_number")
                    and (not row["full_name"] or norm(row["full_name"])
                         == norm(body.get("full_name")))
                    and (not row["birth_date"] or row["birth_date"] == body.get("birth_date")))

    def messages_to(self, phone: str) -> list[Sms]:
        with self.lock:
            return [m for m in self.sent if m.to == phone]

    def count(self) -> int:
        with self.lock:
            return len(self.sent)

    def code_for(self, phone: str, after: int = 0) -> str:
        """The code of the newest SMS to `phone` (E.164) among those sent after the first
        `after` messages of all."""
        with self.lock:
            new = [m for m in self.sent[after:] if m.to == phone]
        assert new, f"no SMS to {phone} since message #{after}"
        return new[-1].code

    def _handler(self):
        carrier = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, body: dict | None = None):
                data = json.dumps(body or {}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the IdP gave up and closed the connection
                    pass

            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                _, kind, who = (self.path.split("/", 2) + ["", ""])[:3]
                if kind == "backchannel":
                    with carrier.lock:
                        carrier.logout_tokens.append((who, raw.decode()))
                    time.sleep(carrier.backchannel_delay)
                    return self._answer(200)
                body = json.loads(raw or b"{}")
                if kind == "sms":
                    mode, delay = carrier.sms_mode, carrier.sms_delay
                    with carrier.lock:
                        carrier.sms_attempts.append((who, mode))
                    carrier.last_sms_node = who
                    carrier.sms_started.set()
                    if mode == "fail":
                        return self._answer(500, {"error": "gateway down"})
                    if mode == "hang":
                        time.sleep(carrier.HANG)
                        return self._answer(200)
                    time.sleep(delay)
                    with carrier.lock:
                        carrier.sent.append(Sms(who, body["to"], body["text"],
                                                body["message_id"], time.time()))
                    return self._answer(200, {"accepted": True})
                if kind == "kyc":
                    mode = carrier.kyc_mode
                    with carrier.lock:
                        carrier.kyc_attempts.append((who, mode))
                    if mode == "fail":
                        return self._answer(500, {"error": "registry down"})
                    if mode == "hang":
                        time.sleep(carrier.HANG)
                    return self._answer(200, {"match": carrier.kyc_match(body)})
                return self._answer(404)

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------- IdP nodes

class Node:
    """One IdP node: gunicorn (config/gunicorn.conf.py, gthread) serving idp.wsgi:app."""

    def __init__(self, name: str, base: Path, env: dict):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = base / f"node-{name}.log"
        self.env = dict(env, GUNICORN_BIND=f"127.0.0.1:{self.port}")
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        with open(self.log, "a") as log:
            log.write(f"\n===== start #{self.starts + 1}\n")
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "idp.wsgi:app"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        self.starts += 1

    def wait_ready(self, timeout: float = 30) -> None:
        def ready():
            if self.proc.poll() is not None:
                raise Gone
            return requests.get(self.url + "/readyz", timeout=2).status_code == 200
        try:
            wait_until(ready, timeout, 0.1, f"node {self.name} ready")
        except (AssertionError, Gone):
            raise AssertionError(
                f"node {self.name} did not become ready:\n{_tail(self.log)}") from None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def worker_pids(self) -> list[int]:
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        try:
            return sorted(int(p) for p in path.read_text().split())
        except OSError:
            return []

    def terminate(self) -> None:
        """SIGTERM to the master: graceful shutdown."""
        self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 20) -> int:
        if self.alive:
            self.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        return self.proc.returncode if self.proc else 0


class OutboxWorker:
    """`idp worker` (idp/outbox.py) beside a node, as production runs it: its own process
    with the node's configuration (so its SMS go to /sms/<name>)."""

    def __init__(self, name: str, base: Path, env: dict):
        self.name, self.env = name, env
        self.log = base / f"worker-{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen([IDP_CLI, "worker"], cwd=ROOT, env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig) -> None:
        if self.alive:
            os.kill(self.proc.pid, sig)

    def stop(self, timeout: float = 15) -> None:
        if self.alive:
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# --------------------------------------------------------------------------- load balancer

NGINX_CONF = """\
# Generated by tests/system/harness.py: round robin over the IdP nodes, no sticky sessions,
# one worker (so the rotation order is deterministic), every request logged with the node.
{user}
worker_processes 1;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    # $uri, never $request/$request_uri: no query strings (codes, tokens) in logs, as in
    # config/nginx.example.conf.
    log_format lb '$msec|$http_x_test_step|$request_method|$uri|$status|$upstream_addr|'
                  '$upstream_status|$request_time';
    access_log {prefix}/access.log lb;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;

    upstream idp {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://idp;
            # As in config/nginx.example.conf (there with TLS, $host and upstream keepalive).
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Request-Id $request_id;
            proxy_connect_timeout 2s;
            proxy_read_timeout 30s;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 2;
        }}
    }}
}}
"""


@dataclass
class Hit:
    at: float
    tag: str
    method: str
    path: str
    status: int
    upstreams: list[str]


class LoadBalancer:
    """nginx in front of the nodes: `-p PREFIX -c CONF`, daemon off, everything in PREFIX."""

    def __init__(self, base: Path, port: int, nodes: list[Node]):
        self.prefix = base / "nginx"
        (self.prefix / "tmp").mkdir(parents=True)
        self.port = port
        self.url = f"http://127.0.0.1:{self.port}"
        self.names = {f"127.0.0.1:{n.port}": n.name for n in nodes}
        # max_fails=0: a node that is down is skipped per request (connection refused ->
        # next upstream), never blacklisted, so the rotation is exact while both are up.
        servers = "\n".join(f"        server 127.0.0.1:{n.port} max_fails=0;" for n in nodes)
        self.conf = self.prefix / "nginx.conf"
        self.conf.write_text(NGINX_CONF.format(
            prefix=self.prefix, port=self.port, servers=servers,
            user="user root;" if os.geteuid() == 0 else ""))
        self.access_log = self.prefix / "access.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.prefix / "stderr.log", "a") as stderr:
            self.proc = subprocess.Popen(
                [NGINX, "-p", str(self.prefix), "-e", str(self.prefix / "error.log"),
                 "-c", str(self.conf), "-g", f"daemon off; pid {self.prefix}/nginx.pid;"],
                stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)

        def up():
            if self.proc.poll() is not None:
                raise Gone
            return requests.get(self.url + "/healthz", timeout=2).status_code == 200
        try:
            wait_until(up, 15, 0.05, "nginx")
        except (AssertionError, Gone):
            raise AssertionError("nginx did not start:\n" + _tail(self.prefix / "stderr.log")
                                 + _tail(self.prefix / "error.log")) from None

    def hits(self) -> list[Hit]:
        out = []
        for line in self.access_log.read_text().splitlines():
            at, tag, method, path, status, upstreams, _, _ = line.split("|")
            out.append(Hit(float(at), "" if tag == "-" else tag, method, path, int(status),
                           [self.names.get(u.strip(), u.strip())
                            for u in upstreams.split(",")
                            if u.strip() and u.strip() != "-"]))
        return out

    def hit(self, tag: str, timeout: float = 3.0) -> Hit:
        """The log line of one tagged request."""
        return wait_until(lambda: next((h for h in self.hits() if h.tag == tag), None),
                          timeout, 0.05, f"access log line {tag}")[0]

    def nodes_for(self, tags: list[str], timeout: float = 3.0) -> list[str]:
        """The node that answered each tagged request, in the order of `tags` (nginx writes a
        line just after the response, so wait briefly for the last ones)."""
        def lookup():
            by_tag = {h.tag: h for h in self.hits() if h.tag}
            if all(t in by_tag for t in tags):
                return [by_tag[t].upstreams[-1] for t in tags]
            return None
        return wait_until(lookup, timeout, 0.05, "access log lines")[0]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# --------------------------------------------------------------------------- the cluster

class Cluster:
    """PostgreSQL + Redis + carrier + two IdP nodes + nginx; `issuer` is the load balancer."""

    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="idp-system-"))
        os.chmod(self.base, 0o755)  # the postgres user must reach its folder
        self.pg = Postgres(self.base, free_port())
        self.redis = Redis(self.base, free_port())
        self.carrier = Carrier()
        self.lb_port = free_port()
        self.issuer = f"http://127.0.0.1:{self.lb_port}"
        self.nodes: dict[str, Node] = {}
        self.workers: dict[str, OutboxWorker] = {}
        self.lb: LoadBalancer | None = None

    # -- configuration shared by the CLI and every node
    def env(self, node: str | None = None) -> dict:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("IDP_", "GUNICORN_", "PROMETHEUS_"))
               and k not in ("WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS")}
        who = node or "cli"
        env.update({
            "IDP_ENV": "test",
            "IDP_ISSUER": self.issuer,
            "IDP_DATABASE_URL": self.pg.url,
            "IDP_REDIS_URL": self.redis.url,
            "IDP_REDIS_PREFIX": "idp:",
            "IDP_REDIS_TIMEOUT": str(REDIS_TIMEOUT),
            "IDP_DB_CONNECT_TIMEOUT": str(DB_CONNECT_TIMEOUT),
            "IDP_DB_POOL_TIMEOUT": str(DB_POOL_TIMEOUT),
            "IDP_DB_STATEMENT_TIMEOUT_MS": str(DB_STATEMENT_TIMEOUT_MS),
            "IDP_SECRET_KEY": "system-test-secret-" + "s" * 40,
            "IDP_KEK": base64.urlsafe_b64encode(b"k" * 32).decode().rstrip("="),
            "IDP_INSTANCE_DIR": str(self.base / "instance"),
            "IDP_TEST_HOOKS": "1",
            "IDP_TRUSTED_PROXIES": "1",
            "IDP_SMS_PROVIDER": "http",
            "IDP_SMS_HTTP_URL": f"{self.carrier.url}/sms/{who}",
            "IDP_SMS_TIMEOUT": str(SMS_TIMEOUT),
            "IDP_KYC_PROVIDER": "http",
            "IDP_KYC_HTTP_URL": f"{self.carrier.url}/kyc/{who}",
            "IDP_KYC_TIMEOUT": str(KYC_TIMEOUT),
            "IDP_KEY_REFRESH_INTERVAL": "1",
            # Outbox workers (idp/outbox.py): quick polls, and a lease a killed worker's rows
            # come back after within seconds (it must exceed SMS_TIMEOUT and the back-channel
            # timeout).
            "IDP_OUTBOX_POLL_INTERVAL": "0.2",
            "IDP_OUTBOX_LEASE_SECONDS": "5",
            "IDP_OUTBOX_BACKOFF": "0.5",
            # Many logins of the same demo citizens in one run: budgets out of the way (the
            # fault tests check that counters apply with the cooldown and login throttle).
            "IDP_SMS_BUDGET_PER_PHONE": "1000",
            "IDP_SMS_BUDGET_PER_IP": "10000",
            "IDP_SMS_BUDGET_GLOBAL": "100000",
            **self._if_known({
                # Every test request comes from 127.0.0.1: room for a whole run per minute.
                "IDP_RATE_LIMIT_PAGES": "6000 per minute",
                "IDP_RATE_LIMIT_CAPTCHA": "6000 per minute"}),
            "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": "2",
            "GUNICORN_GRACEFUL_TIMEOUT": "15",
            "GUNICORN_LOGLEVEL": "warning",
            "PYTHONUNBUFFERED": "1",
        })
        return env

    @staticmethod
    def _if_known(settings: dict) -> dict:
        """Only the settings config/default.toml has (an unknown IDP_* is a start-up error)."""
        import tomllib
        with open(ROOT / "config" / "default.toml", "rb") as fh:
            known = tomllib.load(fh)
        return {k: v for k, v in settings.items() if k[4:].lower() in known}

    def idp(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run the operator CLI against the cluster's database."""
        result = subprocess.run([IDP_CLI, *args], env=self.env(), cwd=ROOT, capture_output=True,
                                text=True, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"idp {' '.join(args)}: {result.stderr or result.stdout}")
        return result

    def _clients_file(self) -> Path:
        """The demo clients, with back-channel logout going to the fake carrier's receiver
        instead of the demo portals' ports."""
        clients = json.loads(DEMO_CLIENTS.read_text(encoding="utf-8"))
        for c in clients:
            if c.get("backchannel_logout_uri"):
                c["backchannel_logout_uri"] = f"{self.carrier.url}/backchannel/{c['client_id']}"
        path = self.base / "clients.json"
        path.write_text(json.dumps(clients, ensure_ascii=False), encoding="utf-8")
        return path

    def start(self) -> None:
        self.pg.create()
        self.redis.start()
        self.idp("init")
        self.idp("clients", "import", str(self._clients_file()))
        self.idp("users", "import", str(DEMO_CITIZENS))
        for name in ("a", "b"):
            self.nodes[name] = Node(name, self.base, self.env(name))
        for node in self.nodes.values():
            node.start()
        for name in self.nodes:
            self.workers[name] = OutboxWorker(name, self.base, self.env(name))
            self.workers[name].start()
        for node in self.nodes.values():
            node.wait_ready()
        self.lb = LoadBalancer(self.base, self.lb_port, list(self.nodes.values()))
        self.lb.start()

    def ensure_healthy(self) -> None:
        """Undo whatever the previous test broke: services up, carrier answering, both nodes
        ready."""
        self.carrier.reset()
        self.redis.resume()
        if not self.redis.running():
            self.redis.start()
        self.pg.resume()
        if not self.pg.running():
            self.pg.start()
        for node in self.nodes.values():
            if not node.alive:
                node.start()
        for worker in self.workers.values():
            if worker.alive:
                worker.signal(signal.SIGCONT)
            else:
                worker.start()
        for node in self.nodes.values():
            node.wait_ready()

    def redis_store(self):
        """The IdP's own Redis store class on the cluster's Redis (to read counters)."""
        from idp.platform.store import RedisStore, redis_client
        settings = {"redis_url": self.redis.url, "redis_timeout": 2.0}
        return RedisStore(redis_client(settings), "idp:")

    def close(self) -> None:
        for step in ([self.lb.stop] if self.lb else []) \
                + [n.stop for n in self.nodes.values()] \
                + [w.stop for w in self.workers.values()] \
                + [self.redis.kill, self.pg.destroy, self.carrier.close]:
            try:
                step()
            except Exception:  # noqa: BLE001 - clean up as much as possible
                pass
        shutil.rmtree(self.base, ignore_errors=True)
