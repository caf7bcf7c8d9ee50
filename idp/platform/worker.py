"""`idp worker`: the process that delivers the outbox (idp/outbox.py) — SMS notices and reset
codes to the gateway, logout tokens to the portals' back-channel endpoints.

Production runs one or more per node, beside gunicorn (systemd unit, container, ...), with the
same configuration as the app; on PostgreSQL any number of them share the work (SKIP LOCKED),
on SQLite they take turns. SIGTERM or SIGINT: the message in hand is finished, the rest of the
claimed batch is handed back at once, exit status 0. SIGKILL loses nothing either: the rows
it held are claimable again when their lease (`outbox_lease_seconds`) runs out.

`--once` delivers what is due now and exits (cron, tests); `--status` prints the rows per kind
and state, the oldest pending one's age and the latest dead letters (destinations masked).
"""
from __future__ import annotations

import datetime as dt
import signal

import click
from flask import current_app
from sqlalchemy import select

from idp.platform import outbox
from idp.platform.db import db
from idp.platform.models import OutboxMessage

VN_TIME = dt.timezone(dt.timedelta(hours=7), "+07:00")


def status_lines(dead_limit: int = 20) -> list[str]:
    counts = outbox.counts()
    lines = []
    for kind in sorted({k for k, _ in counts} | {"sms", "backchannel"}):
        states = ", ".join(f"{state} {counts.get((kind, state), 0)}"
                           for state in ("pending", "delivered", "dead"))
        lines.append(f"{kind}: {states}")
    lines.append(f"oldest pending: {outbox.oldest_pending_age():.0f} s")
    dead = db.session.scalars(select(OutboxMessage).where(OutboxMessage.state == "dead")
                              .order_by(OutboxMessage.done_at.desc()).limit(dead_limit)).all()
    for row in dead:
        when = dt.datetime.fromtimestamp(row.done_at or row.created_at, VN_TIME)
        lines.append(f"dead  {when.isoformat(sep=' ', timespec='seconds')}  {row.kind}  "
                     f"{row.purpose}  id={row.message_id}  citizen={row.citizen_id or '-'}  "
                     f"client={row.client_id or '-'}  attempts={row.attempts}  "
                     f"error={row.last_error or '-'}")
    return lines


def run(once: bool) -> None:
    """The body of `idp worker` (inside the CLI's app context)."""
    app = current_app._get_current_object()
    worker = outbox.Worker(app)
    if once:
        handled = worker.drain()
        click.echo(f"worker {worker.name}: {handled} message(s) handled")
        return

    def stop(signum, frame):
        worker.stop.set()
    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    s = app.config["IDP"]
    click.echo(f"worker {worker.name}: delivering (poll {s['outbox_poll_interval']} s, lease "
               f"{s['outbox_lease_seconds']} s, at most {s['outbox_max_attempts']} attempts)",
               err=True)
    try:
        worker.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo(f"worker {worker.name}: stopped", err=True)
