"""The interaction core (issue 13 items 1-3): the policy's named checks, the pending
authorization (binding, consume once, hand-over) and the engine's transition guard."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask import session

from idp.interaction import engine, pending, policy
from idp.interaction.policy import Facts, Issue, Needed, Refuse

# --------------------------------------------------------------------------- policy


@dataclass
class S:
    acr: str = "LoA2"
    auth_time: int = 1000


FLOWS = frozenset({"login", "stepup", "consent", "register"})


def facts(**kw: Any) -> Facts:
    base: dict[str, Any] = dict(params={}, session=S(), floor="LoA2", highest="LoA2",
                                available_flows=FLOWS, citizen_sub="sub-1", now=1010.0)
    base.update(kw)
    return Facts(**base)


@pytest.mark.parametrize("check, fires, quiet", [
    (policy.consent_denied, dict(results={"consent_denied": True}), {}),
    (policy.level_unavailable, dict(params={"acr_values": "LoA3"}), {}),
    (policy.prompt_create, dict(params={"prompt": "create"}),
     dict(params={"prompt": "create"}, results={"register_done": True})),
    (policy.no_session, dict(session=None), {}),
    (policy.prompt_login, dict(params={"prompt": "login"}),
     dict(params={"prompt": "login"}, results={"login_done": True})),
    (policy.max_age, dict(params={"max_age": "5"}), dict(params={"max_age": "60"})),
    (policy.hint_mismatch, dict(hint_sub="sub-2"),
     dict(hint_sub="sub-2", results={"login_done": True})),
    (policy.hint_not_logged_in, dict(hint_sub="sub-2", results={"login_done": True}),
     dict(hint_sub="sub-2")),
    (policy.level_below, dict(session=S(acr="LoA1")), {}),
    (policy.prompt_consent, dict(params={"prompt": "consent"}),
     dict(params={"prompt": "consent"}, results={"consent_done": True})),
    (policy.consent_missing, dict(first_party=False), dict(first_party=False, has_consent=True)),
])
def test_each_check_gives_its_reason_and_only_then(check, fires, quiet):
    assert isinstance(check(facts(**fires)), str)
    assert check(facts(**quiet)) is None


def test_nothing_missing_issues():
    assert policy.decide(facts()) == Issue()


def test_no_session_needs_a_login_at_the_level_asked_and_the_floor():
    decided = policy.decide(facts(session=None, floor="LoA1",
                                  params={"acr_values": "LoA2 LoA1"}))
    assert decided == Needed("login", "LoA1", ("no_session",), "LoA1")
    decided = policy.decide(facts(session=None, floor="LoA2", params={"acr_values": "LoA1"}))
    assert decided == Needed("login", "LoA2", ("no_session",), "LoA2")


def test_a_loa1_session_needs_the_step_up_and_prompt_none_refuses():
    assert policy.decide(facts(session=S(acr="LoA1"))) == Needed(
        "stepup", "LoA2", ("level_below",), "LoA2")
    assert policy.decide(facts(session=S(acr="LoA1"), params={"prompt": "none"})) == Refuse(
        "interaction_required", "Authentication level LoA2 is required")


def test_loa3_is_refused_before_any_credential_when_no_method_reaches_it():
    assert policy.decide(facts(session=None, params={"acr_values": "LoA3"})) == Refuse(
        "access_denied", "Authentication level LoA3 is not available")


def test_checks_run_in_declared_order():
    # denied consent wins over a missing session; several login checks are all named
    assert policy.decide(facts(session=None, results={"consent_denied": True})) == Refuse(
        "access_denied", "The end-user denied access")
    decided = policy.decide(facts(params={"prompt": "login", "max_age": "1"}, hint_sub="x"))
    assert isinstance(decided, Needed)
    assert decided.reasons == ("prompt_login", "max_age", "hint_mismatch")


def test_a_flow_not_registered_is_access_denied():
    decided = policy.decide(facts(first_party=False, available_flows=frozenset({"login"})))
    assert decided == Refuse("access_denied", "The requested authentication is not available")


def test_needed_round_trips_through_a_record():
    needed = Needed("login", "LoA2", ("no_session",), "LoA1")
    assert Needed.from_record(needed.to_record()) == needed


# --------------------------------------------------------------------------- pending


def test_pending_is_bound_to_its_browser_and_consumed_once(sqlite_app):
    with sqlite_app.test_request_context():
        p = pending.create({"client_id": "x"}, "x", Needed("login", "LoA2"))
        assert pending.find(p.uid) == p
        session["bid"] = "another-browser"
        assert pending.find(p.uid) is None  # the record is there, not for this browser
        assert pending.load(p.uid) is not None
    with sqlite_app.test_request_context():
        assert pending.consume(p.uid) is True
        assert pending.consume(p.uid) is False
        assert pending.load(p.uid) is None


def test_internal_pending_needs_an_internal_kind_and_a_local_path(sqlite_app):
    with sqlite_app.test_request_context():
        with pytest.raises(ValueError):
            pending.create_internal(pending.AUTHORIZATION, "/account/")
        with pytest.raises(ValueError):
            pending.create_internal(pending.ACCOUNT, "//evil.example/")
        p = pending.create_internal(pending.ACCOUNT, "/account/")
        assert p.internal and p.client_id is None


def test_hand_over_drops_what_was_bound_to_the_first_flow(sqlite_app):
    store = sqlite_app.extensions["idp.store"]
    with sqlite_app.test_request_context():
        store.put("acct-reauth:n", {"x": 1}, 60)
        p = pending.create_internal(
            pending.ACCOUNT, "/account/reauth/n", record_completion=True,
            handover=pending.Handover(return_to="/account/", drop=("acct-reauth:n",)))
        after = pending.hand_over(p.uid, {"register_done": True})
        assert after is not None
        assert store.get("acct-reauth:n") is None
        assert after.return_to == "/account/" and not after.record_completion
        assert after.handover is None and after.results == {"register_done": True}
        assert pending.find(p.uid) == after


def test_finish_merges_results_and_ends_an_internal_request(sqlite_app):
    with sqlite_app.test_request_context():
        rp = pending.create({"client_id": "x"}, "x")
        done = pending.finish(rp.uid, {"login_done": True}, flow_id="f", flow_kind="login")
        assert done is not None and pending.find(rp.uid).results == {"login_done": True}
        own = pending.create_internal(pending.RECOVERY, "/recover/done")
        assert pending.finish(own.uid, {}, flow_id="g", flow_kind="recover") is not None
        assert pending.load(own.uid) is None  # the browser goes to return_to; nothing left
        assert pending.completion("f") is None  # no login, no record_completion


def test_finish_refuses_a_pending_of_another_browser(sqlite_app):
    with sqlite_app.test_request_context():
        rp = pending.create({"client_id": "x"}, "x")
    with sqlite_app.test_request_context():
        session["bid"] = "another-browser"
        assert pending.finish(rp.uid, {"login_done": True}, flow_id="f",
                              flow_kind="login") is None


# --------------------------------------------------------------------------- engine


class Toy(engine.FlowKind):
    name = "toy"
    initial_state = "a"
    transitions = {"a": frozenset({"b"}), "b": frozenset()}

    def render(self, flow, errors=None, values=None):
        return f"state {flow.state}"

    def handle(self, flow, form):
        return engine.Goto(form.get("to", ""))


def test_register_validates_the_transition_table():
    class NoInitial(Toy):
        name = "broken1"
        initial_state = "z"

    class UnknownTarget(Toy):
        name = "broken2"
        transitions = {"a": frozenset({"nowhere"})}

    class Undeclared(Toy):
        name = "broken3"
        transitions: dict[str, frozenset[str]] = {}

    for kind in (NoInitial(), UnknownTarget(), Undeclared()):
        with pytest.raises(ValueError):
            engine.register(kind)
    assert not {"broken1", "broken2", "broken3"} & set(engine.KINDS)


def test_an_undeclared_goto_is_refused_and_never_applied(sqlite_app, caplog):
    toy = Toy()
    engine.register(toy)
    try:
        with sqlite_app.test_request_context():
            p = pending.create({"client_id": "x"}, "x")
            flow = engine.create("toy", p)
            response = engine.respond(toy, flow, engine.Goto("b"))
            assert response.status_code == 303
            flow = engine.load(flow.id)
            assert flow.state == "b"
            body, status = engine.respond(toy, flow, engine.Goto("a"))  # b -> a: undeclared
            assert status == 409 and 'data-msg="flow.conflict"' in body
            assert engine.load(flow.id).state == "b"
            assert "undeclared transition b -> a" in caplog.text
    finally:
        engine.KINDS.pop("toy", None)


def test_the_real_kinds_declare_their_transitions(sqlite_app):
    for name in ("login", "stepup", "consent", "register", "recover", "complaint"):
        kind = engine.KINDS[name]
        assert kind.transitions and kind.initial_state in kind.transitions
    login = engine.KINDS["login"]
    assert engine.allowed(login, "credentials", "sms")
    assert not engine.allowed(login, "sms", "credentials")


def test_stay_from_a_method_refusal():
    @dataclass
    class R:
        message: str
        status: int
        retry_after: int
        field: str = "otp"

    stay = engine.Stay.refused(R("wait", 429, 30))
    assert (stay.errors, stay.status, stay.retry_after) == ({"otp": "wait"}, 429, 30)
