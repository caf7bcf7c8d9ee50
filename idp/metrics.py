"""Prometheus metrics at `/metrics` (CONTRACT.md §8).

HTTP traffic is counted in request hooks registered before every other one, so responses made
by error handlers (400, 404, 500, 503) are counted like the rest. Labels stay bounded: the
endpoint is the matched URL rule (`/flow/<flow_id>`, never the raw path) or "unmatched", the
method one of the standard ones or "other".

Business counters are derived from the audit trail: `idp.audit.record` calls `event()` once
per event, which counts every event by name and maps the login and SMS events to their own
counters. SMS budget use is reported by `idp.otp` through `sms_budget_used` and
`sms_budget_refused`.

Each app has its own registry (tests create many apps in one process). Under a multi-process
server (gunicorn) with PROMETHEUS_MULTIPROC_DIR set, values live in files in that directory
and `/metrics` aggregates every worker's; gunicorn's `child_exit` hook must call `child_exit`
below so a dead worker's live values are dropped.
"""
from __future__ import annotations

import os
import time

from flask import Flask, Response, current_app, g, has_app_context, request
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, GCCollector,
                               Histogram, PlatformCollector, ProcessCollector, generate_latest,
                               multiprocess)

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
# Audit event -> outcome label of idp_logins_total / idp_otp_sends_total.
LOGIN_EVENTS = {"login.password_ok": "password_ok", "login.failure": "failure",
                "login.second_factor_ok": "second_factor_ok",
                "login.throttled": "throttled", "second_factor.failure": "second_factor_failure",
                "otp.lockout": "lockout"}
OTP_SEND_EVENTS = {"otp.sent": "sent", "otp.send_failed": "send_failed",
                   "otp.budget_exhausted": "budget_exhausted"}
# Ephemeral-store key prefix of an SMS budget (idp.otp._take_budgets) -> scope label.
BUDGET_SCOPES = {"sms-phone": "phone", "sms-account": "account", "sms-ip": "ip",
                 "sms-global": "global"}


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
        # Known label values start at 0, so rate() and alerts work from the first scrape.
        for outcome in LOGIN_EVENTS.values():
            self.logins.labels(outcome)
        for outcome in OTP_SEND_EVENTS.values():
            self.otp_sends.labels(outcome)
        for scope in BUDGET_SCOPES.values():
            self.budget_used.labels(scope)
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


def _scope(budget_key: str) -> str:
    return BUDGET_SCOPES.get(budget_key.split(":", 1)[0], "other")


def sms_budget_used(budget_keys: list[str]) -> None:
    """A message went out: one unit of each of these budgets is spent for good."""
    if (m := _metrics()) is not None:
        for key in budget_keys:
            m.budget_used.labels(_scope(key)).inc()


def sms_budget_refused(budget_key: str) -> None:
    if (m := _metrics()) is not None:
        m.budget_refusals.labels(_scope(budget_key)).inc()


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


def exposition() -> Response:
    """`GET /metrics`: every worker's values under a multi-process server, else this app's."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
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
    app.before_request(_start)
    app.after_request(_observe)
    app.add_url_rule("/metrics", "metrics", exposition, methods=["GET"])
