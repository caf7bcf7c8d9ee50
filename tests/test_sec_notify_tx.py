"""Account-change notices are written in the transaction of the change they report (issue 11
item 4, DESIGN.md §4b): a crash between the change and its notice can lose neither alone.

Every commit is recorded with the model classes it wrote; each change on the account page
must commit its rows and the notice's outbox row together."""
from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from tests.support import CITIZEN
from tests.support.account import account_login, add_phone, own_outbox, post, rows  # noqa: F401


@pytest.fixture
def commits():
    pending: set[str] = set()
    done: list[frozenset[str]] = []

    def after_flush(session, context):
        for obj in [*session.new, *session.dirty, *session.deleted]:
            pending.add(type(obj).__name__)

    def after_commit(session):
        done.append(frozenset(pending))
        pending.clear()

    def after_rollback(session):
        pending.clear()

    hooks = (("after_flush", after_flush), ("after_commit", after_commit),
             ("after_rollback", after_rollback))
    for name, fn in hooks:
        event.listen(Session, name, fn)
    yield done
    for name, fn in hooks:
        event.remove(Session, name, fn)


def together(done, *names) -> bool:
    return any(set(names) <= c for c in done)


def test_adding_a_phone_commits_the_phone_and_its_notice_together(app, client, commits):
    account_login(app, client)
    commits.clear()
    add_phone(app, client)
    assert together(commits, "AuthMethod", "OutboxMessage"), commits


def test_a_new_default_phone_commits_with_its_notice(app, client, commits):
    account_login(app, client)
    add_phone(app, client)
    commits.clear()
    r = post(client, f"/account/phones/{rows(app)[1][0]}/default")
    assert r.status_code == 303
    assert together(commits, "Citizen", "OutboxMessage"), commits


def test_a_password_change_commits_with_its_notice(app, client, commits):
    account_login(app, client)
    commits.clear()
    new = "mua-xuan-tren-dinh-lang-biang"
    r = post(client, "/account/password", current_password=CITIZEN.password,
             password=new, password_confirm=new)
    assert r.status_code == 303
    assert together(commits, "Citizen", "OutboxMessage"), commits


def test_removing_a_phone_commits_with_its_notice(app, client, commits):
    account_login(app, client)
    add_phone(app, client)
    commits.clear()
    r = post(client, f"/account/phones/{rows(app)[1][0]}/remove")
    assert r.status_code == 303
    assert len(rows(app)) == 1
    assert together(commits, "AuthMethod", "OutboxMessage"), commits
