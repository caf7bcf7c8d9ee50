"""Gunicorn configuration for production nodes (issue #7).

    gunicorn -c config/gunicorn.conf.py idp.wsgi:app

Every node is stateless: signing keys, accounts and tokens live in PostgreSQL, flows, codes,
captchas and counters in Redis (IDP_REDIS_URL), so a load balancer may send each request to
any node (no sticky sessions). The IdP's own settings come from IDP_* / IDP_CONFIG as usual;
this file only reads them to derive consistent server settings.

Environment (all optional):
  GUNICORN_BIND           address(es) to listen on, comma separated (default 127.0.0.1:8000)
  WEB_CONCURRENCY         worker processes (default 2 x cores + 1, at most 8; 1 on SQLite)
  GUNICORN_THREADS        threads per worker (default 4; gthread workers)
  GUNICORN_TIMEOUT        seconds a request may take before its worker is restarted (30)
  GUNICORN_GRACEFUL_TIMEOUT  seconds in-flight requests get after SIGTERM (30)
  GUNICORN_KEEPALIVE      idle seconds a kept-alive connection stays open (65: longer than
                          the load balancer's idle upstream timeout, so the proxy, not
                          gunicorn, closes idle connections and never reuses a closing one)
  FORWARDED_ALLOW_IPS     addresses of the reverse proxies (default 127.0.0.1,::1); only used
                          when IDP_TRUSTED_PROXIES > 0, otherwise no proxy header is trusted
  GUNICORN_CONTROL_SOCKET path of gunicorn's control socket; none unless set (several nodes
                          on one host would otherwise fight over the default path)
  PROMETHEUS_MULTIPROC_DIR  metrics directory shared by the workers; when unset a fresh
                          directory is created for this start and removed at exit

Graceful shutdown: SIGTERM stops accepting connections and lets in-flight requests finish
(at most graceful_timeout seconds), then the master exits with status 0; the port refuses
new connections from the start (post_worker_init below), so the load balancer sends them to
another node at once.
"""
from __future__ import annotations

import multiprocessing
import os
import shutil
import sys
import tempfile

from idp.platform.config import ConfigError, load_settings, validate


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        sys.exit(f"error: {name}: expected an integer, got {value!r}")


def _checked(check, *args):
    try:
        return check(*args)
    except ConfigError as exc:  # one line, before any worker starts
        sys.exit(f"error: configuration: {exc}")


_idp = _checked(load_settings)
_sqlite = not _idp["database_url"] or _idp["database_url"].startswith("sqlite")

# --- Sockets and processes -------------------------------------------------------------------
bind = [b.strip() for b in os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")
        if b.strip()]
# SQLite allows one writer: one worker process (production refuses more, see idp/config.py).
workers = _int_env("WEB_CONCURRENCY",
                   1 if _sqlite else min(2 * multiprocessing.cpu_count() + 1, 8))
# The application checks the worker count itself (SQLite + several workers is refused in
# production): tell it the number actually used, then check once here, before forking.
os.environ["WEB_CONCURRENCY"] = str(workers)
_checked(validate, _idp)
worker_class = "gthread"
threads = _int_env("GUNICORN_THREADS", 4)
# Each worker process holds its own database pool (db_pool_size + db_max_overflow
# connections): keep workers x that below PostgreSQL's max_connections for all nodes.
timeout = _int_env("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int_env("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int_env("GUNICORN_KEEPALIVE", 65)
proc_name = "idp"
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"  # heartbeat file off disk (containers: avoid blocking fchmod)

_control = os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip()
if _control:
    control_socket = _control
else:
    control_socket_disable = True

# --- Reverse proxy ---------------------------------------------------------------------------
# The application decides the client address and scheme from X-Forwarded-* itself
# (IDP_TRUSTED_PROXIES hops, werkzeug ProxyFix). Gunicorn trusts the same headers from the
# same proxies, or none at all when the application trusts none.
if _idp["trusted_proxies"] > 0:
    forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
else:
    forwarded_allow_ips = ""
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
forwarder_headers = ""  # no SCRIPT_NAME / PATH_INFO / REMOTE_USER from the proxy
header_map = "drop"  # headers with underscores are ambiguous: dropped

# --- Logs ------------------------------------------------------------------------------------
accesslog = None  # the application logs every request (with a request id, data masked)
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")

# --- Prometheus multi-process metrics --------------------------------------------------------
_own_metrics_dir = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Must exist (and be empty) before the workers import prometheus_client.
    _own_metrics_dir = tempfile.mkdtemp(prefix="idp-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _own_metrics_dir


def post_worker_init(worker):
    """When a worker starts its graceful shutdown, close its copy of the listening socket
    at once. The master has already closed its own, so once every worker has, the port
    refuses new connections and the load balancer moves on immediately; otherwise they wait
    in the listen queue until the slowest in-flight request is done (up to
    graceful_timeout) and are then reset. A worker leaving alone (HUP reload, max_requests)
    changes nothing: the master still holds the socket for the other workers."""
    enable = getattr(worker, "set_accept_enabled", None)  # gthread worker (gunicorn >= 24)
    if enable is None:
        return

    def set_accept_enabled(enabled):
        enable(enabled)
        if not enabled and not worker.alive:
            for listener in worker.sockets:
                listener.close()
    worker.set_accept_enabled = set_accept_enabled


def child_exit(server, worker):
    """A worker exited: let the metrics module mark its live gauges dead (if it exists)."""
    try:
        from idp.platform import metrics
    except ImportError:
        return
    hook = getattr(metrics, "child_exit", None)
    if hook is not None:
        hook(server, worker)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(_own_metrics_dir, ignore_errors=True)
