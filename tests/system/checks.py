"""Database checks after a fault: nothing half-written (issue #7 item 4)."""
from __future__ import annotations

from .drive import DEMO_IDS


def assert_nothing_half_written(pg) -> None:
    """No account without its SMS method (registered accounts; the imported demo citizens
    use their own phone), no token without the consumed code of its grant, no consumed code
    without the tokens it issued."""
    placeholders = ",".join(["%s"] * len(DEMO_IDS))
    assert pg.scalar(
        "SELECT count(*) FROM citizens c WHERE NOT EXISTS (SELECT 1 FROM auth_methods m "
        f"WHERE m.citizen_id = c.id AND m.kind = 'sms') AND c.id_number NOT IN ({placeholders})",
        tuple(DEMO_IDS)) == 0
    assert pg.scalar(
        "SELECT count(*) FROM tokens t WHERE NOT EXISTS (SELECT 1 FROM authorization_codes a "
        "WHERE a.grant_id = t.grant_id AND a.consumed_at IS NOT NULL)") == 0
    assert pg.scalar(
        "SELECT count(*) FROM authorization_codes a WHERE a.consumed_at IS NOT NULL AND "
        "NOT EXISTS (SELECT 1 FROM tokens t WHERE t.grant_id = a.grant_id)") == 0


def accounts(pg, id_number: str) -> int:
    return pg.scalar("SELECT count(*) FROM citizens WHERE id_number = %s", (id_number,))
