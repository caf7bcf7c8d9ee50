"""Durable delivery through a transactional outbox (DESIGN.md §4b; issue 11 item 4).

What goes through it. Messages whose loss or whose timing would hurt:
- back-channel logout tokens (accounts/signout.py `end_sessions`): a row per (session, portal),
  written in the transaction that revokes the session, so a logout either happened *and* will
  be told to every portal, or did not happen;
- SMS that could reveal whether an account exists, because their caller is anonymous: the
  password-reset code (`otp.send(..., via_outbox=True)`), and the notices to a citizen's phones
  (accounts/notices.py: recovery, complaints, the register alert, account changes). With the
  gateway inside the request, `/recover` and `/lost-phone` answered an ID number with an account a
  gateway round trip (~250 ms) later than one without; now both only write rows.

What stays synchronous, and why:
- login and step-up codes: the caller has just proven the password (or holds a session), so
  the answer reveals nothing new, and the citizen must see the clean "could not send the code,
  try again" at once and keep their budget (CONTRACT.md §4) instead of waiting for a code that
  a dead letter will never bring;
- registration codes and the phone-change code of the account page: they go to the number the
  caller typed, before anything about accounts is looked up (flows/register.py docstring), so
  their timing depends only on that number and the gateway; the caller needs the same clean
  error to correct a mistyped number.

Rows (models.OutboxMessage): `pending` → `delivered` | `dead`. The payload is JSON sealed with
AES-256-GCM under the key-encryption key (AAD `outbox:<message_id>`): an SMS text holds a code,
and the table is copied into backups. It is set to NULL once delivered or dead; a reset code
past its expiry is never sent (dead, "expired").

Claiming (`Worker._claim`): one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) …
RETURNING` on PostgreSQL, so any number of workers on any number of nodes take disjoint rows
without waiting for each other. SQLite has no row locks: the same single statement runs under
SQLite's database-wide write lock (taken at the statement's start, like BEGIN IMMEDIATE), so
claims are serialised — one worker claims at a time — and never overlap. The claim sets a
lease (`outbox_lease_seconds`, renewed before each delivery of a batch): a row whose worker was
killed becomes claimable again when its lease runs out, so nothing is lost with a node.

At least once, with a stable id: `message_id` is fixed when the row is written — the SMS
port's `message_id`, the logout token's `jti` — and reused by every attempt, so a gateway or a
portal that sees a message twice (a worker killed after sending, before recording it) drops
the duplicate (portals/app.py remembers jti values). Each claim counts as an attempt; a failed
attempt waits `outbox_backoff` × 2^(attempt-1) seconds (at most an hour) before the next;
after `outbox_max_attempts` the row is dead: audited as `outbox.dead` (`idp audit list --event
outbox.`; `idp worker --status` lists the latest) and counted in the metrics.

Workers: `idp worker`, a process of its own in production (one per node or more; SIGTERM
finishes the message in hand and hands the rest of the batch back). In development (`./run`)
the app process runs one in a background thread, started by the first request it serves
(`outbox_inline_worker = "auto"`), so codes and logouts arrive with no extra command. A thread
rather than a second process started by ./run: it starts and stops with the server (Ctrl-C,
the reloader), nothing is left running when the script is killed, and SQLite keeps a single
writing process. Not from create_app: every CLI command creates the app too, and a worker
thread in `idp init` would claim rows and die with the command (the rows would wait out their
lease). Tests run no thread (env "test"); they call `Worker.drain()` where a worker would run.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import delete, func, select, update

from idp.platform import audit, metrics
from idp.platform.audit import mask_phone
from idp.platform.db import db, now
from idp.platform.keys import seal, unseal
from idp.platform.models import OutboxMessage

log = logging.getLogger("idp.outbox")

BATCH = 10  # rows per claim; each one's lease is renewed before it is delivered
BACKOFF_CAP = 3600
DELIVERED_RETENTION = 7 * 86400  # delivered rows kept for the metrics and operators
DEAD_RETENTION = 30 * 86400
PRUNE_INTERVAL = 600
# Longest wait between passes while the database fails: short, so delivery resumes within
# seconds of the database coming back (a failed pass costs one connection attempt).
FAILURE_WAIT_CAP = 5.0


@dataclass(frozen=True)
class Claimed:
    id: int
    message_id: str
    kind: str
    purpose: str
    payload_enc: bytes | None
    citizen_id: int | None
    client_id: str | None
    attempts: int


class PermanentFailure(Exception):
    """Raised by a handler when retrying cannot help (e.g. a back-channel URI that now
    resolves to a forbidden address): the message becomes a dead letter at once. The
    message is a short text for the audit trail."""


@dataclass(frozen=True)
class Handler:
    """How one kind of message is delivered: `deliver(message, payload)` returns (ok,
    result), `result` a short text for the audit trail (an HTTP status, an error class);
    `describe(payload)` the masked destination for the audit trail. Audit events are
    `<event_prefix>.delivered` and, for a dead letter, `<event_prefix>.failed`."""
    deliver: Callable[[Claimed, dict], tuple[bool, str]]
    event_prefix: str
    describe: Callable[[dict], dict] = lambda payload: {}


# --------------------------------------------------------------------------- writing

def _aad(message_id: str) -> bytes:
    return b"outbox:" + message_id.encode()


def _kek() -> bytes:
    return current_app.extensions["idp.keyring"]._kek


def enqueue(kind: str, purpose: str, payload: dict, *, message_id: str | None = None,
            citizen_id: int | None = None, client_id: str | None = None) -> str:
    """Add a message to the session's transaction (not committed: the caller commits it with
    the change that causes it). Returns its stable message id."""
    message_id = message_id or uuid.uuid4().hex
    t = now()
    db.session.add(OutboxMessage(
        message_id=message_id, kind=kind, purpose=purpose[:40], state="pending",
        payload_enc=seal(_kek(), json.dumps(payload, ensure_ascii=False).encode(),
                         _aad(message_id)),
        citizen_id=citizen_id, client_id=client_id, attempts=0, created_at=t, due_at=t,
        lease_until=0.0))
    return message_id


def enqueue_sms(to: str, text: str, purpose: str, citizen_id: int | None = None,
                expires: float | None = None) -> str:
    """An SMS (E.164 `to`); with `expires`, it is not sent after that instant (a code)."""
    payload = {"to": to, "text": text}
    if expires is not None:
        payload["expires"] = expires
    return enqueue("sms", purpose, payload, citizen_id=citizen_id)


# --------------------------------------------------------------------------- delivering

def _deliver_sms(message: Claimed, payload: dict) -> tuple[bool, str]:
    from idp.platform import sms
    try:
        sms.send(payload["to"], payload["text"], message.message_id)
    except sms.SmsError as exc:
        return False, str(exc)[:200]
    return True, "accepted"


def register(app: Flask, kind: str, handler: Handler) -> None:
    app.extensions["idp.outbox.handlers"][kind] = handler


class Worker:
    """Claims due rows and delivers them (module docstring). One instance per loop; the
    `name` is stored with each claim (host:pid:random)."""

    def __init__(self, app: Flask, name: str | None = None):
        self.app = app
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        s = app.config["IDP"]
        self.lease = s["outbox_lease_seconds"]
        self.max_attempts = s["outbox_max_attempts"]
        self.backoff = s["outbox_backoff"]
        self.poll = s["outbox_poll_interval"]
        self.stop = threading.Event()
        self._pruned = 0.0

    # -- loop
    def run(self) -> None:
        """Until `stop` is set. Database errors are logged and waited out (backing off), never
        fatal: the rows stay where they are."""
        failures = 0
        while not self.stop.is_set():
            try:
                handled = self.run_once()
                failures = 0
            except Exception:  # noqa: BLE001 - database down, ...: wait and try again
                failures += 1
                log.warning("outbox worker %s: pass failed (%d in a row)", self.name, failures,
                            exc_info=failures == 1)
                self.stop.wait(min(FAILURE_WAIT_CAP, self.poll * 2 ** failures))
                continue
            if not handled:
                self.stop.wait(self.poll)

    def run_once(self, limit: int = BATCH) -> int:
        """Claim up to `limit` due rows and deliver them; returns how many were claimed."""
        with self.app.app_context():
            try:
                claimed = self._claim(limit)
                for i, message in enumerate(claimed):
                    if self.stop.is_set():
                        self._release(claimed[i:])
                        break
                    self._deliver(message)
                self._maybe_prune()
                return len(claimed)
            except Exception:
                db.session.rollback()
                raise
            finally:
                db.session.remove()

    def drain(self, max_passes: int = 1000) -> int:
        """Deliver everything due now (tests, `idp worker --once`); returns rows claimed."""
        total = 0
        for _ in range(max_passes):
            handled = self.run_once()
            total += handled
            if not handled:
                break
        return total

    # -- claiming
    def _claim(self, limit: int) -> list[Claimed]:
        t = now()
        due = (select(OutboxMessage.id)
               .where(OutboxMessage.state == "pending", OutboxMessage.due_at <= t,
                      OutboxMessage.lease_until <= t)
               .order_by(OutboxMessage.due_at, OutboxMessage.id).limit(limit))
        if db.engine.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        stmt = (update(OutboxMessage)
                .where(OutboxMessage.id.in_(due.scalar_subquery()),
                       OutboxMessage.state == "pending", OutboxMessage.lease_until <= t)
                .values(claimed_by=self.name, lease_until=t + self.lease,
                        attempts=OutboxMessage.attempts + 1)
                .returning(OutboxMessage.id, OutboxMessage.message_id, OutboxMessage.kind,
                           OutboxMessage.purpose, OutboxMessage.payload_enc,
                           OutboxMessage.citizen_id, OutboxMessage.client_id,
                           OutboxMessage.attempts)
                .execution_options(synchronize_session=False))
        rows = db.session.execute(stmt).all()
        db.session.commit()
        return sorted((Claimed(*row) for row in rows), key=lambda m: m.id)

    def _mine(self, message: Claimed):
        return (OutboxMessage.id == message.id, OutboxMessage.state == "pending",
                OutboxMessage.claimed_by == self.name)

    def _renew(self, message: Claimed) -> bool:
        done = db.session.execute(
            update(OutboxMessage).where(*self._mine(message))
            .values(lease_until=now() + self.lease)
            .execution_options(synchronize_session=False)).rowcount
        db.session.commit()
        return done == 1

    def _release(self, messages: list[Claimed]) -> None:
        """Hand unstarted rows back (stopping): claimable at once, the claim not counted."""
        for message in messages:
            db.session.execute(
                update(OutboxMessage).where(*self._mine(message))
                .values(lease_until=0.0, claimed_by=None, attempts=OutboxMessage.attempts - 1)
                .execution_options(synchronize_session=False))
        db.session.commit()

    # -- one message
    def _deliver(self, message: Claimed) -> None:
        if not self._renew(message):
            return  # the lease ran out and another worker took the row
        handler = self.app.extensions["idp.outbox.handlers"].get(message.kind)
        try:
            payload = json.loads(unseal(_kek(), message.payload_enc, _aad(message.message_id)))
        except Exception:  # noqa: BLE001 - NULL, tampered, or sealed under another KEK
            return self._dead(message, None, {}, "undecryptable")
        if handler is None:
            return self._dead(message, None, payload, f"no handler for {message.kind}"[:200])
        if payload.get("expires") is not None and now() >= payload["expires"]:
            return self._dead(message, handler, payload, "expired")
        try:
            ok, result = handler.deliver(message, payload)
        except PermanentFailure as exc:
            return self._dead(message, handler, payload, str(exc)[:200])
        except Exception as exc:  # noqa: BLE001 - a handler bug must not stop the worker
            log.exception("outbox %s %s: handler failed", message.kind, message.message_id)
            ok, result = False, type(exc).__name__
        if ok:
            self._delivered(message, handler, payload, result)
        elif message.attempts >= self.max_attempts:
            self._dead(message, handler, payload, result)
        else:
            self._retry(message, result)

    def _detail(self, message: Claimed, handler: Handler | None, payload: dict) -> dict:
        detail = {"message_id": message.message_id, "purpose": message.purpose,
                  "attempts": message.attempts}
        if handler is not None:
            detail.update(handler.describe(payload))
        return detail

    def _delivered(self, message, handler, payload, result: str) -> None:
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id, OutboxMessage.state == "pending")
            .values(state="delivered", done_at=now(), payload_enc=None, lease_until=0.0,
                    last_error=None)
            .execution_options(synchronize_session=False))
        audit.record(f"{handler.event_prefix}.delivered", citizen_id=message.citizen_id,
                     client_id=message.client_id, result=result,
                     **self._detail(message, handler, payload))  # commits both
        metrics.outbox_outcome(message.kind, "delivered")

    def _retry(self, message: Claimed, result: str) -> None:
        delay = min(BACKOFF_CAP, self.backoff * 2 ** (message.attempts - 1))
        db.session.execute(
            update(OutboxMessage).where(*self._mine(message))
            .values(due_at=now() + delay, lease_until=0.0, claimed_by=None,
                    last_error=str(result)[:200])
            .execution_options(synchronize_session=False))
        db.session.commit()
        metrics.outbox_outcome(message.kind, "retried")
        log.warning("outbox %s %s (%s): attempt %d failed (%s), next in %.1f s", message.kind,
                    message.message_id, message.purpose, message.attempts, result, delay)

    def _dead(self, message, handler, payload, result: str) -> None:
        db.session.execute(
            update(OutboxMessage).where(*self._mine(message))
            .values(state="dead", done_at=now(), payload_enc=None, lease_until=0.0,
                    last_error=str(result)[:200])
            .execution_options(synchronize_session=False))
        detail = self._detail(message, handler, payload)
        if handler is not None:
            audit.record(f"{handler.event_prefix}.failed", citizen_id=message.citizen_id,
                         client_id=message.client_id, result=result, commit=False, **detail)
        audit.record("outbox.dead", citizen_id=message.citizen_id, client_id=message.client_id,
                     kind=message.kind, error=result, **detail)  # commits all three
        metrics.outbox_outcome(message.kind, "dead")
        log.error("outbox %s %s (%s): dead after %d attempts (%s)", message.kind,
                  message.message_id, message.purpose, message.attempts, result)

    def _maybe_prune(self) -> None:
        t = now()
        if t - self._pruned < PRUNE_INTERVAL:
            return
        self._pruned = t
        db.session.execute(delete(OutboxMessage).where(
            OutboxMessage.state == "delivered", OutboxMessage.done_at < t - DELIVERED_RETENTION))
        db.session.execute(delete(OutboxMessage).where(
            OutboxMessage.state == "dead", OutboxMessage.done_at < t - DEAD_RETENTION))
        db.session.commit()


# --------------------------------------------------------------------------- operators

def counts() -> dict[tuple[str, str], int]:
    """{(kind, state): rows} (metrics, `idp worker --status`)."""
    return {(kind, state): n for kind, state, n in db.session.execute(
        select(OutboxMessage.kind, OutboxMessage.state, func.count())
        .group_by(OutboxMessage.kind, OutboxMessage.state))}


def oldest_pending_age() -> float:
    oldest = db.session.scalar(select(func.min(OutboxMessage.created_at))
                               .where(OutboxMessage.state == "pending"))
    return max(0.0, now() - oldest) if oldest is not None else 0.0


# --------------------------------------------------------------------------- wiring

def inline_enabled(settings: dict) -> bool:
    mode = settings["outbox_inline_worker"]
    return mode == "on" or (mode == "auto" and settings["env"] == "development")


def init_app(app: Flask) -> None:
    app.extensions["idp.outbox.handlers"] = {
        "sms": Handler(_deliver_sms, "sms",
                       lambda payload: {"phone": mask_phone(payload.get("to"))})}
    if not inline_enabled(app.config["IDP"]):
        return
    # Development: a worker thread in the serving process, started by its first request (not
    # by create_app, which every CLI command runs too); again after a fork.
    lock, started = threading.Lock(), {}

    @app.before_request
    def _start_inline_worker():
        if started.get("pid") == os.getpid():
            return
        with lock:
            if started.get("pid") == os.getpid():
                return
            worker = Worker(app)
            threading.Thread(target=worker.run, name="outbox-worker", daemon=True).start()
            started.update(pid=os.getpid(), worker=worker)
            app.extensions["idp.outbox.inline"] = worker
            log.info("outbox worker %s started in the app process", worker.name)
