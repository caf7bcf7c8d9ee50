"""`idp worker`: deliver the outbox (idp/platform/outbox.py, idp/platform/worker.py)."""
from __future__ import annotations

import click

from idp.cli.common import masked, operator_command


@click.command("worker", help="Deliver the outbox (SMS notices and reset codes, back-channel "
                             "logouts) until SIGTERM; dead letters are audited as outbox.dead.")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--status", is_flag=True, help="Print the rows per state and the latest dead "
                                             "letters, then exit.")
@operator_command()
def worker(once: bool, status: bool):
    from idp.platform import worker as outbox_worker
    if status:
        for line in outbox_worker.status_lines():
            click.echo(masked(line))
        return
    outbox_worker.run(once)
