"""Counters of guesses against one ID number (login passwords, reset codes and sends), kept
so that a stranger who knows the number cannot lock its owner out (issue 11 item 3; the
threat model and the numbers are in flows/login.py).

- Everything is keyed by the ID-number *string* (its SHA-256), existing account or not, so
  the counters tell nothing about which accounts exist.
- A *bucket* is who is counted: the browser's known-device cookie when it names the citizen
  who owns the ID number (`d:<device id>`, idp/device.py), else the client address
  (`a:<hash>`; IPv6 by /64, the block one subscriber gets, so an attacker cannot walk
  through 2^64 addresses).
- Every key of an ID number carries its *epoch*, `lockout-epoch:<idh>` (missing: "0").
  `clear` gives the ID number a new random epoch: every counter, wait and friction flag of it,
  for every address and device, is then out of use at once (one atomic write on either
  store, no scan), and expires on its own. The epoch record outlives every key written
  under it: it lives `EPOCH_TTL`, and is renewed (compare-and-set) when a key written now
  could outlive it.
- Waits and friction flags are records `{"until": t}` compared with this module's clock;
  the store's TTL only removes them later.
"""
from __future__ import annotations

import ipaddress

from flask import current_app, g

from idp.accounts import device
from idp.platform.crypto import random_token, sha256_hex
from idp.platform.db import now
from idp.platform.web import client_ip

DAY = 24 * 3600
LONGEST = DAY  # the longest TTL of any key written under an epoch
EPOCH_TTL = 7 * DAY


def _store():
    return current_app.extensions["idp.store"]


def id_hash(id_number: str) -> str:
    return sha256_hex(id_number)


def _epoch_key(idh: str) -> str:
    return "lockout-epoch:" + idh


def _epoch(idh: str) -> str:
    cache = g.setdefault("lockout_epochs", {})
    if idh not in cache:
        record = _store().get(_epoch_key(idh))
        cache[idh] = record["e"] if record else "0"
    return cache[idh]


def key(idh: str, *parts: str) -> str:
    return ":".join(("lockout", idh, _epoch(idh), *parts))


def keep_epoch(idh: str) -> None:
    """Before writing a key that may live `LONGEST`: make sure the epoch outlives it."""
    found = _store().get_rev(_epoch_key(idh))
    if found is None:
        return  # epoch "0": nothing to outlive
    record, rev = found
    if record.get("exp", 0) - now() < LONGEST + 3600:
        # A parallel `clear` changes the revision: then its new epoch wins, as it should.
        _store().cas(_epoch_key(idh), rev, {"e": record["e"], "exp": now() + EPOCH_TTL},
                     EPOCH_TTL)


def clear(id_number: str) -> None:
    """Forget every counter, wait and friction flag of `id_number` (module docstring)."""
    idh = id_hash(id_number)
    epoch = random_token(9)
    _store().put(_epoch_key(idh), {"e": epoch, "exp": now() + EPOCH_TTL}, EPOCH_TTL)
    g.setdefault("lockout_epochs", {})[idh] = epoch


def address_bucket() -> str:
    address = client_ip() or ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "a:" + sha256_hex("?" + address)[:32]
    if ip.version == 6 and ip.ipv4_mapped is None:
        address = str(ipaddress.ip_network(f"{ip}/64", strict=False))
    elif ip.version == 6:
        address = str(ip.ipv4_mapped)
    return "a:" + sha256_hex(address)[:32]


def bucket(device_id: str | None) -> str:
    """Where this request is counted: the owner's known device, else the client address."""
    return "d:" + device_id if device_id else address_bucket()


def owner_device(id_number: str) -> str | None:
    """This browser's device id when its cookie names the owner of `id_number`."""
    return device.owner_device(id_number)


def hold(k: str, seconds: float, t: float | None = None) -> None:
    """A wait (or a friction flag) on key `k` for `seconds` from `t` (default: now)."""
    _store().put(k, {"until": (now() if t is None else t) + seconds}, seconds)


def remaining(k: str, t: float | None = None) -> int:
    """Whole seconds left at `t` (default: now) of the wait on `k` (0: none)."""
    record = _store().get(k)
    left = (record or {}).get("until", 0) - (now() if t is None else t)
    return int(left + 0.999) if left > 0 else 0
