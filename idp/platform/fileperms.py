"""Files only the service account may read (issue 11 item 6): the SQLite database (password
hashes, sealed keys, tokens), `keys/` (the development key-encryption key) and the instance
folder (the development secret_key, the SMS outbox with one-time codes).

Directories are 0700 and files 0600 whatever the process umask. Files that already exist with
group or other bits are tightened on start (never loosened), and so are the project's own
folders (instance/, keys/ of the checkout), so an old checkout is fixed too.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

DIR_MODE = 0o700
FILE_MODE = 0o600


def tighten(path: Path) -> None:
    """Remove group and other permission bits from an existing file or directory."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, mode & ~0o077)
    except OSError:
        pass  # not ours to change (another owner, read-only mount): leave it


def private_dir(path: Path | str, tighten_existing: bool = False) -> Path:
    """mkdir -p with mode 0700 for the directories it creates. An existing directory is
    tightened only with `tighten_existing=True`: for the project's own folders, never for a
    folder an operator named (IDP_KEK_FILE=/tmp/kek.key must not chmod /tmp)."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(d, DIR_MODE)  # mkdir's mode is filtered by the umask
    if tighten_existing and not missing:
        tighten(path)
    return path


def private_file(path: Path | str) -> None:
    """Create `path` empty with mode 0600 if missing (O_EXCL: never truncates), else tighten."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        tighten(path)
        return
    os.fchmod(fd, FILE_MODE)
    os.close(fd)


def private_sqlite(url: str) -> None:
    """Before SQLite opens the database file: create it 0600 if missing, else tighten it.
    SQLite gives its -wal and -shm files the permissions of the database file."""
    try:
        database = make_url(url).database
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: the engine will say so
        return
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return  # SQLite will report it ("unable to open database file"): not ours to create
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            tighten(extra)
