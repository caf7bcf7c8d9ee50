"""A registry kept as a CSV file by a local stand-in of an outside party (the carrier's
subscriber registry, accounts/kyc.py; the social-insurance registry, accounts/bhxh.py): read
into {key: row} and read again when the file's modification time or size changes, so an
operator can edit it under a running server. Any problem reading it is the caller's own
error class (`error`), so the port's callers handle one failure."""
from __future__ import annotations

import csv
import threading
import unicodedata
from collections.abc import Callable
from pathlib import Path


def same_text(a: str | None, b: str | None) -> bool:
    """Names compared as registries compare them: Unicode NFC, case folded, inner white space
    collapsed."""
    def norm(text: str | None) -> str:
        return " ".join(unicodedata.normalize("NFC", text or "").casefold().split())
    return norm(a) == norm(b)


class KeyedCsv:
    """`columns`: the header must name them; `key(row)`: the row's key (None: the row is
    skipped); values are stripped of surrounding white space."""

    def __init__(self, path: Path, columns: set[str], key: Callable[[dict[str, str]], str | None],
                 error: type[Exception]):
        self.path, self.columns, self.key, self.error = Path(path), columns, key, error
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._rows: dict[str, dict[str, str]] = {}

    def _unreadable(self, exc: Exception) -> Exception:
        return self.error(f"registry unreadable: {exc.__class__.__name__}")

    def rows(self) -> dict[str, dict[str, str]]:
        try:
            st = self.path.stat()
        except OSError as exc:
            raise self._unreadable(exc) from None
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._rows, self._stamp = self._read(), stamp
            return self._rows

    def _read(self) -> dict[str, dict[str, str]]:
        rows: dict[str, dict[str, str]] = {}
        try:
            with open(self.path, encoding="utf-8-sig", newline="") as fh:
                reader = csv.DictReader(fh)
                if not self.columns <= set(reader.fieldnames or ()):
                    raise self.error("registry header must name " +
                                     ", ".join(sorted(self.columns)))
                for row in reader:
                    clean = {k: (v or "").strip() for k, v in row.items() if k}
                    key = self.key(clean)
                    if key:
                        rows[key] = clean
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise self._unreadable(exc) from None
        return rows


def port_from_settings(settings: dict, name: str, registry: Callable[[Path], object],
                       default_registry: Path, http: Callable[[str, float], object]) -> object:
    """The port `name` (kyc, bhxh) as configured: `<name>_provider` "registry" (the CSV file
    `<name>_registry`, empty: `default_registry`) or "http" (`<name>_http_url`, answer within
    `<name>_timeout` seconds). A wrong setting stops the start with a one-line reason."""
    from idp.platform.config import ConfigError
    provider, url = settings[f"{name}_provider"], settings[f"{name}_http_url"]
    if provider == "http":
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{name}_http_url: an http(s) URL is required when "
                              f"{name}_provider is http")
        return http(url, settings[f"{name}_timeout"])
    if provider == "registry":
        return registry(Path(settings[f"{name}_registry"] or default_registry))
    raise ConfigError(f"{name}_provider: must be registry or http")
