"""`idp users import|unlock`: citizen accounts."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import click

from idp.accounts import citizen_admin, lockout, validation
from idp.accounts.validation import ValidationError
from idp.cli.common import CliError, InputError, audit, commit_or_conflict, done, operator_command
from idp.cli.reading import read_json_lines


def _hash_all(passwords: list[str]) -> list[str]:
    """Argon2id is deliberately slow; argon2-cffi releases the GIL, so threads use every core."""
    from idp.platform.crypto import hash_password
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        return list(pool.map(hash_password, passwords))


def import_citizens(path: str, skip_existing: bool = False) -> tuple[int, int]:
    """Validate every line, then create all accounts in one transaction.
    Returns (imported, skipped)."""
    records, seen = [], {}
    for line, data in read_json_lines(path):
        try:
            record = validation.validate_citizen(data)
        except ValidationError as exc:
            raise InputError(path, line, exc.message, exc.field) from None
        if record["id_number"] in seen:
            raise InputError(path, line, f"trùng với dòng {seen[record['id_number']]}.",
                             "id_number")
        seen[record["id_number"]] = line
        records.append((line, record))
    if not records:
        raise InputError(path, None, "no citizens in the file")
    existing = citizen_admin.existing_id_numbers(list(seen))
    new = []
    for line, record in records:
        if record["id_number"] in existing:
            if skip_existing:
                continue
            raise InputError(path, line, "đã có tài khoản với số định danh này.", "id_number")
        new.append(record)
    hashes = _hash_all([r.pop("password") for r in new])
    for record, password_hash in zip(new, hashes):
        citizen_admin.add(record, password_hash)
    if new:
        audit("citizens.imported", file=os.path.basename(path), count=len(new))
    commit_or_conflict(path)
    return len(new), len(records) - len(new)


@click.group(help="Citizen accounts.")
def users():
    pass


@users.command("import", help="Import citizens, one JSON object per line.")
@click.argument("file")
@operator_command()
def users_import(file: str):
    added, _ = import_citizens(file)
    click.echo(f"citizens: {added} imported")


@users.command("unlock", help="Lift a second-factor lock-out (after checking the citizen's "
                               "identity), and forget the login failures of the ID number.")
@click.argument("id_number")
@operator_command()
def users_unlock(id_number: str):
    citizen = citizen_admin.by_id_number(id_number)
    if citizen is None:
        raise CliError(f"no citizen with ID number {id_number[:3]}…")
    citizen_admin.clear_otp_lockout(citizen.id)
    lockout.clear(id_number)
    done("citizen.unlocked", f"citizen {citizen.id}: unlocked", citizen_id=citizen.id)
