"""The per-process client cache (idp/platform/clients.py): one query for many requests, a
commit that touches a client in this process seen at once, a change made by another process
seen within CACHE_SECONDS, unknown ids never kept."""
from __future__ import annotations

import json

from sqlalchemy import event, text

from idp.platform import clients
from idp.platform.db import db
from idp.platform.models import Client


def lookups(app, client_id: str, times: int = 3) -> tuple[list, int]:
    """`times` lookups in separate requests; (the clients found, SELECTs on clients issued)."""
    found, selects = [], []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, *args):
        if "FROM clients" in statement:
            selects.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(times):
            with app.test_request_context("/token"):
                found.append(clients.query_client(client_id))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return found, len(selects)


def test_a_client_is_read_once_for_many_requests(app):
    found, selects = lookups(app, "portal")
    assert all(c is not None and c.client_id == "portal" for c in found)
    assert selects == 1


def test_unknown_ids_are_looked_up_every_time(app):
    found, selects = lookups(app, "nobody")
    assert found == [None] * 3 and selects == 3


def test_a_change_committed_in_this_process_is_seen_at_once(app):
    lookups(app, "portal")
    with app.app_context():
        row = db.session.query(Client).filter_by(client_id="portal").one()
        row.set_metadata({**row.client_metadata, "client_name": "Cổng mới"})
        db.session.commit()
    found, selects = lookups(app, "portal", times=1)
    assert found[0].client_name == "Cổng mới" and selects == 1


def test_a_change_made_by_another_process_is_seen_within_the_bound(app, monkeypatch):
    lookups(app, "portal")
    with app.app_context():
        meta = json.loads(db.session.execute(
            text("SELECT metadata_json FROM clients WHERE client_id = 'portal'")).scalar())
        meta["client_name"] = "Đổi từ nơi khác"
        # Plain SQL, as `idp clients` in its own process: no ORM event in this one.
        db.session.execute(text("UPDATE clients SET metadata_json = :m WHERE client_id = "
                                "'portal'"), {"m": json.dumps(meta, ensure_ascii=False)})
        db.session.commit()
    found, _ = lookups(app, "portal", times=1)
    assert found[0].client_name != "Đổi từ nơi khác"  # cached, within the bound
    monkeypatch.setattr(clients, "CACHE_SECONDS", 0.0)  # the bound has passed
    found, selects = lookups(app, "portal", times=1)
    assert found[0].client_name == "Đổi từ nơi khác" and selects == 1
