"""Reading the operator's input files (client lists, citizen lines): every error names the
file and line (`FILE:LINE: field: message`), so the operator can go straight to it."""
from __future__ import annotations

import json
import re
from pathlib import Path

from idp.cli.common import InputError

_decoder = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")


def _skip_ws(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()


def _line_at(text: str, pos: int, first_line: int = 1) -> int:
    return first_line + text.count("\n", 0, pos)


def _read_text(path: str) -> str:
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(path, None, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, None, "is a directory, not a file") from None
    except OSError as exc:
        raise InputError(path, None, f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")  # a leading BOM (Windows editors) is tolerated
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise InputError(path, line, "not valid UTF-8 text") from None
    if not text.strip():
        raise InputError(path, None, "file is empty")
    return text


def _object_key_lines(text: str, start: int, path, first_line: int) -> dict[str, int]:
    """Line of each top-level key of the (already valid) JSON object at text[start]."""
    lines: dict[str, int] = {}
    i = _skip_ws(text, start + 1)
    while text[i] != "}":
        key, end = _decoder.raw_decode(text, i)
        line = _line_at(text, i, first_line)
        if key in lines:
            raise InputError(path, line, "duplicate key in the same object", key)
        lines[key] = line
        i = _skip_ws(text, _skip_ws(text, end) + 1)  # past ':'
        _, end = _decoder.raw_decode(text, i)
        i = _skip_ws(text, end)
        if text[i] == ",":
            i = _skip_ws(text, i + 1)
    return lines


def _json_error(path, exc: json.JSONDecodeError, first_line: int = 1) -> InputError:
    return InputError(path, exc.lineno + first_line - 1,
                      f"invalid JSON: {exc.msg} (column {exc.colno})")


def read_json_list(path: str) -> list[tuple[int, object, dict[str, int]]]:
    """A JSON array of objects -> [(line of the object, object, {key: line})]."""
    text = _read_text(path)
    try:
        data = _decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise _json_error(path, exc) from None
    if not isinstance(data, list):
        raise InputError(path, _line_at(text, _skip_ws(text, 0)),
                         "expected a JSON list ([...]) of objects")
    items = []
    i = _skip_ws(text, _skip_ws(text, 0) + 1)  # past '['
    while text[i] != "]":
        value, end = _decoder.raw_decode(text, i)
        keys = _object_key_lines(text, i, path, 1) if isinstance(value, dict) else {}
        items.append((_line_at(text, i), value, keys))
        i = _skip_ws(text, end)
        if text[i] == ",":
            i = _skip_ws(text, i + 1)
    if not items:
        raise InputError(path, None, "the list is empty")
    return items


def read_json_lines(path: str) -> list[tuple[int, object]]:
    """One JSON value per line; blank lines are skipped -> [(line number, value)]."""
    text = _read_text(path)
    items = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = _decoder.decode(line)
        except json.JSONDecodeError as exc:
            raise _json_error(path, exc, number) from None
        if isinstance(value, dict):
            _object_key_lines(line, _skip_ws(line, 0), path, number)  # duplicate keys
        items.append((number, value))
    return items
