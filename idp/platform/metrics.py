"""Prometheus metrics at `/metrics` (CONTRACT.md §8).

HTTP traffic is counted in request hooks registered before every other one, so responses made
by error handlers (400, 404, 500, 503) are counted like the rest. Labels stay bounded: the
endpoint is the matched URL rule (`/flow/<flow_id>`, never the raw path) or "unmatched", the
method one of the standard ones or "other".

Business counters are derived from the audit trail: `idp.audit.record` calls `event()` once
per event, which counts every event by name and maps the login and SMS events to their own
counters. SMS budget use is reported through `sms_budget_used` (by the sender, once a message
went out) and `sms_budget_refused` (by `idp.sms_budget`), labelled by budget scope.

Each app has its own registry (tests create many apps in one process). Under a multi-process
server (gunicorn) with PROMETHEUS_MULTIPROC_DIR set, values live in files in that directory
and `/metrics` aggregates every worker's; gunicorn's `child_exit` hook must call `child_exit`
below so a dead worker's live values are dropped.

Access: `metrics_token` set -> a bearer token is required; unset -> open in development and
test, 404 in production (see `_authorised`).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Callable, Mapping

from flask import Flask, Response, abort, current_app, g, has_app_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    multiprocess,
)

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
# Audit event -> outcome label of idp_logins_total / idp_otp_sends_total.
LOGIN_EVENTS = {"login.password_ok": "password_ok", "login.failure": "failure",
                "login.second_factor_ok": "second_factor_ok",
                "login.throttled": "throttled", "second_factor.failure": "second_factor_failure",
                "otp.lockout": "lockout"}
OTP_SEND_EVENTS = {"otp.sent": "sent", "otp.send_failed": "send_failed",
                   "otp.budget_exhausted": "budget_exhausted"}
# Ephemeral-store key prefix of an SMS budget (idp.sms_budget) -> scope label. Refusals by
# the global counter below its full size (shedding) have their own labels.
BUDGET_SCOPES = {"sms-phone": "phone", "sms-account": "account", "sms-ip": "ip",
                 "sms-global": "global",
                 "sms-phone-add": "phone_add",
                 "sms-phone-anon": "phone_unauthenticated",
                 "sms-account-anon": "account_unauthenticated",
                 "sms-ip-anon": "ip_unauthenticated",
                 "sms-phone-notify": "phone_notify", "sms-ip-notify": "ip_notify",
                 "sms-phone-owner": "phone_owner", "sms-account-owner": "account_owner"}
SHED_SCOPES = ("global_unauthenticated", "global_notify")


OUTBOX_KINDS = ("sms", "backchannel")


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """The metric objects of one app, registered in `registry`."""

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry
        kw = {"registry": registry}
        self.http_requests = Counter("idp_http_requests", "HTTP requests answered.",
                                     ["method", "endpoint", "status"], **kw)
        self.http_duration = Histogram("idp_http_request_duration_seconds",
                                       "Time to answer an HTTP request.",
                                       ["method", "endpoint"], **kw)
        self.logins = Counter("idp_logins", "Login steps by outcome.", ["outcome"], **kw)
        self.otp_sends = Counter("idp_otp_sends", "SMS code sends by outcome.", ["outcome"],
                                 **kw)
        self.events = Counter("idp_events", "Audit events by name.", ["event"], **kw)
        self.budget_used = Counter("idp_sms_budget_used",
                                   "SMS messages sent, counted against each hourly budget.",
                                   ["scope"], **kw)
        self.budget_refusals = Counter("idp_sms_budget_refusals",
                                       "SMS sends refused because an hourly budget was spent.",
                                       ["scope"], **kw)
        self.outbox = Counter("idp_outbox_deliveries",
                              "Outbox delivery attempts by outcome (idp.outbox): delivered, "
                              "retried (failed, will try again), dead (gave up).",
                              ["kind", "outcome"], **kw)
        for kind in OUTBOX_KINDS:
            for outcome in ("delivered", "retried", "dead"):
                self.outbox.labels(kind, outcome)
        # Known label values start at 0, so rate() and alerts work from the first scrape.
        for outcome in LOGIN_EVENTS.values():
            self.logins.labels(outcome)
        for outcome in OTP_SEND_EVENTS.values():
            self.otp_sends.labels(outcome)
        for scope in BUDGET_SCOPES.values():
            self.budget_used.labels(scope)
            self.budget_refusals.labels(scope)
        for scope in SHED_SCOPES:
            self.budget_refusals.labels(scope)


def _metrics() -> Metrics | None:
    return current_app.extensions.get("idp.metrics") if has_app_context() else None


# --------------------------------------------------------------------------- business counters

def event(name: str) -> None:
    """Called by idp.audit.record for every audit event."""
    m = _metrics()
    if m is None:
        return
    m.events.labels(name).inc()
    if name in LOGIN_EVENTS:
        m.logins.labels(LOGIN_EVENTS[name]).inc()
    if name in OTP_SEND_EVENTS:
        m.otp_sends.labels(OTP_SEND_EVENTS[name]).inc()


def budget_scope(budget: str) -> str:
    """The scope label of a budget key (or key prefix); a scope label stays itself."""
    if budget in SHED_SCOPES or budget in BUDGET_SCOPES.values():
        return budget
    return BUDGET_SCOPES.get(budget.split(":", 1)[0], "other")


def sms_budget_used(budget_keys: list[str]) -> None:
    """A message went out: one unit of each of these budgets is spent for good."""
    if (m := _metrics()) is not None:
        for key in budget_keys:
            m.budget_used.labels(budget_scope(key)).inc()


def sms_budget_refused(budget_key: str) -> None:
    """A send was refused by this budget (a key or a scope label)."""
    if (m := _metrics()) is not None:
        m.budget_refusals.labels(budget_scope(budget_key)).inc()


def outbox_outcome(kind: str, outcome: str) -> None:
    """Called by the outbox worker (idp.outbox) for each attempt's outcome. In a separate
    `idp worker` process these reach /metrics when it shares PROMETHEUS_MULTIPROC_DIR with
    the server; the row counts below come from the database either way."""
    if (m := _metrics()) is not None:
        m.outbox.labels(kind, outcome).inc()


OutboxCounts = Callable[[], Mapping[tuple[str, str], int]]
OutboxAge = Callable[[], float]


def watch_outbox(app: Flask, counts: OutboxCounts, oldest_pending_age: OutboxAge) -> None:
    """Tell the scrape-time gauges how to read the outbox (create_app passes idp.platform.outbox's
    `counts` and `oldest_pending_age`). Handed in rather than imported: the outbox counts its
    deliveries here, so an import back would be a cycle."""
    app.extensions["idp.metrics.outbox"] = (counts, oldest_pending_age)


class OutboxCollector:
    """Gauges read from the outbox table at scrape time (every worker process's work, on
    every node): rows by kind and state, and the age of the oldest pending one. Skipped
    when the database does not answer (the scrape still succeeds), and when no outbox
    was handed in (`watch_outbox`)."""

    def __init__(self, app: Flask):
        self.app = app

    def describe(self):
        return []  # no query at registration (the registry would call collect)

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        from idp.platform.db import db
        source = self.app.extensions.get("idp.metrics.outbox")
        if source is None:
            return
        read_counts, read_age = source
        try:
            with self.app.app_context():
                try:
                    counts, age = read_counts(), read_age()
                finally:
                    db.session.remove()
        except Exception:  # noqa: BLE001 - no schema yet, database down
            return
        rows = GaugeMetricFamily("idp_outbox_messages",
                                 "Outbox rows by kind and state (pending, delivered, dead).",
                                 labels=["kind", "state"])
        for kind in OUTBOX_KINDS:
            for state in ("pending", "delivered", "dead"):
                rows.add_metric([kind, state], counts.get((kind, state), 0))
        yield rows
        yield GaugeMetricFamily("idp_outbox_oldest_pending_seconds",
                                "Age of the oldest pending outbox row (0: none).", value=age)


# --------------------------------------------------------------------------- HTTP

def _start():
    g.metrics_start = time.perf_counter()


def _observe(response):
    m = _metrics()
    if m is None or g.get("metrics_done"):
        return response
    g.metrics_done = True  # after_request can run twice when a later hook fails
    method = request.method if request.method in METHODS else "other"
    endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
    m.http_requests.labels(method, endpoint, str(response.status_code)).inc()
    started = g.get("metrics_start")
    if started is not None:
        m.http_duration.labels(method, endpoint).observe(time.perf_counter() - started)
    return response


def _authorised() -> Response | None:
    """None when the scrape may proceed, else the answer (issue 11 item 6): with
    `metrics_token` set, `Authorization: Bearer <token>` is required (compared in constant time
    on SHA-256 digests, so not even the length leaks); without one, /metrics is open outside
    production and absent (404) in production."""
    settings = current_app.config["IDP"]
    token = settings.get("metrics_token") or ""
    if not token:
        if settings["env"] == "production":
            abort(404)
        return None
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(
            hashlib.sha256(given.strip().encode("utf-8", "replace")).digest(),
            hashlib.sha256(token.encode("utf-8")).digest()):
        return None
    error = ', error="invalid_token"' if scheme.lower() == "bearer" else ""
    return Response("unauthorized\n", 401, content_type="text/plain; charset=utf-8",
                    headers={"WWW-Authenticate": f'Bearer realm="metrics"{error}',
                             "Cache-Control": "no-store"})


def exposition() -> Response:
    """`GET /metrics`: every worker's values under a multi-process server, else this app's."""
    if (refusal := _authorised()) is not None:
        return refusal
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(OutboxCollector(current_app._get_current_object()))
    else:
        registry = current_app.extensions["idp.metrics"].registry
    return Response(generate_latest(registry), 200, content_type=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})


def child_exit(server, worker) -> None:
    """gunicorn hook (config/gunicorn.conf.py): forget a dead worker's live values."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(worker.pid)


def init_app(app: Flask) -> None:
    """Call first in create_app: the hooks must run before (and finish after) all others."""
    registry = CollectorRegistry(auto_describe=True)
    if not multiprocess_dir():
        # Per-process collectors; under a multi-process server they would be meaningless.
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
    app.extensions["idp.metrics"] = Metrics(registry)
    registry.register(OutboxCollector(app))
    app.before_request(_start)
    app.after_request(_observe)
    app.add_url_rule("/metrics", "metrics", exposition, methods=["GET"])
