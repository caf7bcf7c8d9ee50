"""Every user-facing message has an id (Kratos's message ids): `msg("otp.wrong")` returns the
text in the request's language, as a `Message` that carries its id. Pages render the id as
`data-msg="…"` next to the text, so tests assert ids, not Vietnamese prose, and the wording can
change in one place.

The catalogue is split by area, one module each (`common`, `login`, `second_factor`,
`register`, `recovery`, `complaint`, `account`, `validation`, `sms` …), each defining
`MESSAGES: dict[str, Entry]`. An entry is a lazy gettext string (`_l("…")`, extracted by
pybabel with `-k _l`), or a function of the message's parameters for plurals
(`lambda num: ngettext("…", "…", num)`). Source strings are Vietnamese; translations/en holds
English. An id is `<area>.<what>`: lower case, dots and underscores only.
"""
from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from typing import Any

from flask_babel import LazyString

Entry = LazyString | str | Callable[..., str]
ID = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)+")


class Message(str):
    """A message text (in the request's language) that knows its catalogue id. It *is* a str,
    so templates and code that print it need nothing special; `.id` is for `data-msg`."""

    id: str

    def __new__(cls, msg_id: str, text: str) -> Message:
        obj = super().__new__(cls, text)
        obj.id = msg_id
        return obj


def _load() -> dict[str, Entry]:
    catalogue: dict[str, Entry] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for msg_id, entry in getattr(module, "MESSAGES", {}).items():
            if not ID.fullmatch(msg_id):
                raise ValueError(f"bad message id {msg_id!r} in {info.name}")
            if msg_id in catalogue:
                raise ValueError(f"message id {msg_id!r} defined twice")
            catalogue[msg_id] = entry
    return catalogue


CATALOGUE: dict[str, Entry] = _load()


def msg(msg_id: str, **params: Any) -> Message:
    """The message `msg_id` with its %(name)s parameters filled in. An unknown id is a
    programming error (KeyError), caught by the tests that render every page."""
    entry = CATALOGUE[msg_id]
    if callable(entry) and not isinstance(entry, (str, LazyString)):
        text = entry(**params)
    else:
        text = str(entry)
        if params:
            text = text % params
    return Message(msg_id, text)


def is_known(msg_id: str) -> bool:
    return msg_id in CATALOGUE
