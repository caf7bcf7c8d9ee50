"""Database checks after a fault: nothing half-written (issue #7 item 4); and `record`, which
keeps the measurements the fault tests print."""
from __future__ import annotations

import json
import threading
from pathlib import Path

from tests.system.drive import DEMO_IDS

RESULTS = Path(__file__).resolve().parent / ".results"
_results_lock = threading.Lock()


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


def record(section: str, name: str, values: dict) -> None:
    """Print a measurement and keep it in tests/system/.results/faults.json (git-ignored)."""
    rounded = {k: round(v, 3) if isinstance(v, float) else v for k, v in values.items()}
    print(f"\n[{section}] {name}: " + ", ".join(f"{k}={v}" for k, v in rounded.items()))
    with _results_lock:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / "faults.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
        data.setdefault(section, {})[name] = rounded
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
