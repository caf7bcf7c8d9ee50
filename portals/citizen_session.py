"""The portal's own login session: the signed cookie holds only the id of a server-side record
(portals.store), so that a back-channel logout, which cannot reach the browser's cookie, still
ends the session at the citizen's next request."""
from __future__ import annotations

from flask import g, session

from portals.security import csrf_token
from portals.state import portal
from portals.store import Record


def load_record() -> None:
    """before_request: `g.record` is the citizen's live record, or None."""
    g.record = None
    rec_id = session.get("rec")
    if rec_id:
        g.record = portal().store.get(rec_id)
        if g.record is None:
            # Logged out elsewhere (back-channel) or expired: forget the local session.
            session.pop("rec", None)
            session.pop("csrf", None)


def clear() -> None:
    """Empties the cookie session but keeps the pending flash messages, which must survive the
    login and logout redirects they are meant for."""
    flashes = session.get("_flashes")
    session.clear()
    if flashes:
        session["_flashes"] = flashes


def begin(record: Record) -> None:
    """Session rotation at every login and step-up: nothing of the previous cookie content
    (pending login, old CSRF token) carries over to the new record."""
    clear()
    session.permanent = True
    session["rec"] = record.id
    csrf_token()  # a fresh CSRF token for the new session
