"""Issue 16 item 3, below the round trip: account linking by personal identification number
(idp/accounts/federation.py), the level mapping, the account page's list of linked identities
("Gỡ liên kết" under a fresh login, the phones told) and `idp federation list|unlink`."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from flask_migrate import stamp
from sqlalchemy import select

from idp.accounts import federation
from idp.accounts.federation import Asserted, LinkRefused
from idp.cli import main
from idp.platform.db import db
from idp.platform.models import Citizen, FederatedIdentity, OutboxMessage
from tests.support import CITIZEN, CITIZEN2
from tests.support.account import account_login, events, messages_to, own_outbox, post  # noqa: F401


def asserted(pid: str = CITIZEN.id_number, subject: str = "vneid-sub-1",
             level: int | None = 2) -> Asserted:
    return Asserted("vneid", subject, pid, "Nguyễn Văn An", "1989-03-15", "CONG_DAN", level)


def citizen(app, id_number: str = CITIZEN.id_number) -> Citizen:
    return db.session.scalar(select(Citizen).where(Citizen.id_number == id_number))


@pytest.mark.parametrize("level, acr", [(2, "LoA2"), (1, "LoA1"), (None, "LoA1"), (3, "LoA1"),
                                        (0, "LoA1")])
def test_the_vneid_level_maps_to_our_acr_never_higher_on_doubt(level, acr):
    assert federation.acr_for(level) == acr


def test_an_asserted_identity_survives_the_flow_record():
    original = asserted(level=None)
    assert Asserted.from_record(original.record()) == original
    assert Asserted.from_record({**original.record(), "account_level": "2"}).account_level \
        is None  # only an int is a level


def test_an_account_with_the_number_is_linked_once_and_its_phones_told(app):
    with app.app_context():
        found = federation.find(asserted())
        assert found is not None and found.id_number == CITIZEN.id_number
        assert federation.find(asserted()).id == found.id  # linked: found by the link now
        links = db.session.scalars(select(FederatedIdentity)).all()
        assert [(link.linked_by, link.pid) for link in links] == [("id_number",
                                                                   CITIZEN.id_number)]
        notices = db.session.scalars(select(OutboxMessage)).all()
        assert [n.purpose for n in notices] == ["notify:vneid_linked"]


def test_no_account_is_none_and_writes_nothing(app):
    with app.app_context():
        assert federation.find(asserted(pid="066190008812")) is None
        assert db.session.scalars(select(FederatedIdentity)).all() == []


def test_a_disabled_account_is_refused(app):
    with app.app_context():
        citizen(app).status = "disabled"
        db.session.commit()
        with pytest.raises(LinkRefused) as refused:
            federation.find(asserted())
        assert refused.value.reason == "disabled"
        assert db.session.scalars(select(FederatedIdentity)).all() == []


def test_a_link_whose_account_changed_number_is_refused(app):
    with app.app_context():
        federation.find(asserted())
        citizen(app).id_number = "066089009999"
        db.session.commit()
        with pytest.raises(LinkRefused) as refused:
            federation.find(asserted())
        assert refused.value.reason == "mismatch"


def test_moving_a_cmnd_account_to_a_number_that_has_one_is_refused(app):
    with app.app_context():
        other = citizen(app, CITIZEN2.id_number)
        with pytest.raises(LinkRefused) as refused:
            federation.move_former(other, asserted())
        assert refused.value.reason == "taken"
        assert citizen(app, CITIZEN2.id_number) is not None  # unchanged


def test_only_an_active_nine_digit_citizen_account_is_a_former_account(app):
    with app.app_context():
        assert federation.former_account(CITIZEN.id_number) is None  # 12 digits
        assert federation.former_account("24123456a") is None
        assert federation.former_account("241234567") is None  # nobody


# --------------------------------------------------------------------------- account page

def test_the_account_page_lists_the_link_and_removes_it_under_a_fresh_login(app, client):
    with app.app_context():
        federation.find(asserted())
        link_id = db.session.scalar(select(FederatedIdentity.id))
    page = account_login(app, client).get_data(as_text=True)
    assert "Tài khoản định danh điện tử liên kết" in page and "VNeID" in page
    assert CITIZEN.id_number not in page.split('data-methods="federated"')[1][:400]  # masked
    confirm = client.get(f"/account/linked/{link_id}/remove")
    assert confirm.status_code == 200 and "Gỡ liên kết" in confirm.get_data(as_text=True)
    r = post(client, f"/account/linked/{link_id}/remove")
    assert r.status_code == 303
    with app.app_context():
        assert db.session.scalars(select(FederatedIdentity)).all() == []
    assert events(app, "federation.unlinked")
    assert any("VNeID" in text for text in messages_to(app, CITIZEN.phone))


def test_another_accounts_link_cannot_be_removed(app, client):
    with app.app_context():
        other = citizen(app, CITIZEN2.id_number)
        db.session.add(federation.new_row(other.id, asserted(pid=CITIZEN2.id_number,
                                                             subject="other"), "id_number"))
        db.session.commit()
        link_id = db.session.scalar(select(FederatedIdentity.id))
    account_login(app, client)
    r = post(client, f"/account/linked/{link_id}/remove")
    assert r.status_code == 303
    with app.app_context():
        assert len(db.session.scalars(select(FederatedIdentity)).all()) == 1


# --------------------------------------------------------------------------- CLI

@pytest.fixture
def cli(app):
    with app.app_context():
        stamp()

    def run(*args):
        with app.app_context():
            return CliRunner().invoke(main, ["federation", *args], catch_exceptions=False)
    return run


def test_operators_list_and_unlink(app, cli):
    with app.app_context():
        federation.find(asserted())
        link_id = db.session.scalar(select(FederatedIdentity.id))
    listed = cli("list")
    assert listed.exit_code == 0 and "vneid" in listed.output
    assert CITIZEN.id_number not in listed.output and "id_number" in listed.output
    assert cli("list", CITIZEN2.id_number).output.count("vneid") == 0
    done = cli("unlink", CITIZEN.id_number, str(link_id), "--operator", "Nguyễn Văn Trực")
    assert done.exit_code == 0, done.output
    with app.app_context():
        assert db.session.scalars(select(FederatedIdentity)).all() == []
    assert events(app, "federation.unlinked")[0]["operator"] == "Nguyễn Văn Trực"


@pytest.mark.parametrize("args, status", [
    (("unlink", "12345", "1"), 2), (("unlink", CITIZEN.id_number, "0"), 2),
    (("unlink", CITIZEN.id_number, "99"), 1), (("unlink", "066190008812", "1"), 1),
    (("list", "abc"), 2)])
def test_bad_cli_input_is_one_line(cli, args, status):
    result = cli(*args)
    assert result.exit_code == status, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
