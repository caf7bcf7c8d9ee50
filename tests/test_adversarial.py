"""Adversarial, HTTP-level tests: try to break the provider from the outside.

Every response produced here goes through `check` (never a 5xx, never a stack trace, never a
307/308, every Location either a same-origin path or a registered redirect URI carrying `iss`
and a clean `error_description`, HTML pages hardened against framing and caching, no CORS on
the authorization endpoint). The fuzz cases share one app per database (module scope, its own
database) so the whole file stays fast; tests that need a clean state use the usual `app` /
`client` fixtures.

Behaviour pinned here that once was broken (each case below is a regression test):
- a NUL byte never reaches the database: in an /authorize parameter it is an `invalid_request`
  redirect and the parameter itself is dropped (a NUL `state` is not echoed); in a client_id
  it is an unknown client; anything the database still refuses is a 400, never a 503;
- a malformed Basic header is a 401 invalid_client, never a 500;
- a response_type outside RFC 6749 App. A is `unsupported_response_type` (a missing one is
  `invalid_request`), never a 500 from Authlib echoing it into error_description;
- max_age is ASCII digits only (`²`, `٣`, `１` are invalid_request, even with a session);
- 405 answers carry Allow (RFC 9110 §15.5.6);
- repeated parameters at /token, /revoke and /introspect are invalid_request (RFC 6749 §3.2);
- unknown /authorize parameters are ignored and not stored, whatever their name or size
  (RFC 6749 §3.1), so no name collides with the provider's own bookkeeping;
- workers starting together compile the translations and create the KEK file without racing.
"""
from __future__ import annotations

import base64
import contextlib
import io
import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from werkzeug.datastructures import MultiDict

from idp.platform.db import db
from tests.support import (
    CITIZEN,
    CITIZEN2,
    ISSUER,
    NATIONAL_CB,
    PORTAL_CB,
    SECRET,
    SPA_CB,
    auth_params,
    authorize,
    basic,
    finish_sms_step,
    follow_to_login,
    form_action,
    hidden,
    login_and_get_code,
    login_form_submit,
    pkce_pair,
    token_request,
)
from tests.support.apps import make_app, throwaway_pg_database

REGISTERED = (PORTAL_CB, NATIONAL_CB, SPA_CB)
INTERNAL_PATHS = ("/flows/", "/authorize/resume/")
# RFC 6749 Appendix A: error_description = 1*( %x20-21 / %x23-5B / %x5D-7E )
ERROR_DESCRIPTION = re.compile(r"[\x20-\x21\x23-\x5B\x5D-\x7E]+")
ORIGIN = {"Origin": "https://evil.example"}


# ---------------------------------------------------------------- the universal checks

def check_location(location: str) -> dict | None:
    """A Location is either one of our own paths or a registered redirect URI. Returns the
    query of a redirect to a client (None for an internal redirect)."""
    assert "\r" not in location and "\n" not in location
    parts = urlsplit(location)
    if not parts.scheme and not parts.netloc:
        assert location.startswith("/") and not location.startswith(("//", "/\\")), location
        assert location.startswith(INTERNAL_PATHS), location
        return None
    base = location.split("?", 1)[0]
    assert base in REGISTERED, f"redirect to an unregistered URI: {location}"
    assert not parts.fragment
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    q = dict(pairs)
    # RFC 9207 §2: iss in every authorization response, error or not, exactly once.
    assert [v for k, v in pairs if k == "iss"] == [ISSUER], location
    assert ("code" in q) != ("error" in q), location
    if "error_description" in q:
        assert ERROR_DESCRIPTION.fullmatch(q["error_description"]), q["error_description"]
    if "error" in q:
        assert re.fullmatch(r"[\x20-\x21\x23-\x5B\x5D-\x7E]+", q["error"])
    return q


def assert_hardened_html(r) -> None:
    assert r.mimetype == "text/html"
    csp = r.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp, csp
    assert r.headers.get("X-Frame-Options") == "DENY"
    assert "no-store" in r.headers.get("Cache-Control", "")
    assert r.headers.get("X-Content-Type-Options") == "nosniff"


def check(r, path: str = ""):
    body = r.get_data()
    assert r.status_code < 500, (r.status_code, body[:300])
    assert b"Traceback" not in body and b'File "/' not in body
    assert r.status_code not in (307, 308)  # RFC 9700 §4.12
    if r.mimetype == "text/html":
        assert_hardened_html(r)
    if path.startswith("/authorize"):
        assert "Access-Control-Allow-Origin" not in r.headers  # RFC 9700 §2.6
    location = r.headers.get("Location")
    return check_location(location) if location else None


# ---------------------------------------------------------------- shared app per database

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_app(request, tmp_path_factory):
    """One app per database for the stateless fuzz cases, on a database of its own (the
    function-scoped `app` fixture recreates the worker's PostgreSQL database per test)."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('adversarial') / 'idp.sqlite3'}"
        else:
            url = stack.enter_context(throwaway_pg_database("idp_adv"))
        # Every login sends an SMS code now (login_min_acr LoA2), many of them to one phone:
        # the hourly budgets (test_sec_sms_budget.py tests them) would end the fuzz early.
        app = make_app(url, sms_budget_per_phone=100000, sms_budget_per_ip=100000)
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="module")
def sso_client(shared_app):
    """A browser with a live SSO session (so requests reach the policy and code issuance)."""
    c = shared_app.test_client()
    login_and_get_code(c, auth_params(challenge=pkce_pair()[1]))
    return c


def challenge() -> str:
    return pkce_pair()[1]


# ================================================================ /authorize fuzz

BIG = "A" * 3000
BIG_UTF8 = "ệ" * 2100  # > MAX_PARAM characters, ~6 KiB of UTF-8
# (id, changes to a valid request (None removes), expected outcome)
#   expected: "page" = 400 HTML, no Location; "error" = 302 error to the client;
#             an error code = 302 with exactly that error; "flow" = 303 to the login flow;
#             None = anything safe.
AUTHORIZE_CASES = [
    # huge values
    ("huge-client_id", {"client_id": BIG}, "page"),
    ("huge-redirect_uri", {"redirect_uri": PORTAL_CB + "?" + BIG}, "page"),
    ("huge-state", {"state": BIG}, "page"),  # too long to echo; never a redirect without it
    ("huge-state-utf8", {"state": BIG_UTF8}, "page"),
    ("max-state-2048", {"state": "s" * 2048}, "flow"),
    ("huge-nonce", {"nonce": BIG}, "error"),
    ("huge-scope", {"scope": "openid " + BIG}, "error"),
    ("huge-prompt", {"prompt": BIG}, "error"),
    ("huge-max_age", {"max_age": "9" * 3000}, "error"),
    ("huge-acr_values", {"acr_values": BIG_UTF8}, "error"),
    ("huge-ui_locales", {"ui_locales": BIG}, "error"),
    ("huge-claims", {"claims": BIG}, "error"),
    ("huge-id_token_hint", {"id_token_hint": BIG}, "error"),
    ("huge-login_hint", {"login_hint": BIG}, "error"),
    ("huge-code_challenge", {"code_challenge": BIG}, "error"),
    # unknown parameters are ignored (RFC 6749 §3.1), whatever their name or size
    ("huge-unknown-param", {"x_unknown": BIG}, "flow"),
    ("huge-unicode-param-name", {'ệ"\\\x01name': BIG}, "flow"),
    # NUL bytes (refused up front, the parameter dropped) and control characters
    ("nul-client_id", {"client_id": "por\x00tal"}, "page"),
    ("nul-redirect_uri", {"redirect_uri": PORTAL_CB + "\x00"}, "page"),
    ("nul-state", {"state": "a\x00b"}, "invalid_request"),
    ("nul-nonce", {"nonce": "a\x00b"}, "invalid_request"),
    ("nul-scope", {"scope": "openid\x00profile"}, "invalid_request"),
    ("nul-prompt", {"prompt": "login\x00"}, "invalid_request"),
    ("nul-max_age", {"max_age": "1\x00"}, "invalid_request"),
    ("nul-acr_values", {"acr_values": "LoA1\x00"}, "invalid_request"),
    ("nul-ui_locales", {"ui_locales": "\x00vi"}, "invalid_request"),
    ("nul-id_token_hint", {"id_token_hint": "\x00.\x00.\x00"}, "invalid_request"),
    ("nul-code_challenge", {"code_challenge": "\x00" * 43}, "invalid_request"),
    ("nul-response_type", {"response_type": "code\x00"}, "invalid_request"),
    ("quote-response_type", {"response_type": 'code"'}, "unsupported_response_type"),
    ("unicode-response_type", {"response_type": "códe"}, "unsupported_response_type"),
    ("backslash-response_type", {"response_type": "code\\"}, "unsupported_response_type"),
    ("crlf-state", {"state": "x\r\nLocation: https://evil.example/"}, "flow"),
    ("crlf-response_type", {"response_type": "x\r\n"}, "unsupported_response_type"),
    # prompt / max_age / acr / locales / claims oddities
    ("prompt-none-login", {"prompt": "none login"}, "error"),
    ("prompt-uppercase", {"prompt": "NONE"}, "error"),
    ("prompt-repeated-word", {"prompt": "login login"}, "flow"),
    ("prompt-tabs", {"prompt": "\tlogin\t"}, "flow"),
    ("prompt-create", {"prompt": "create"}, "flow"),
    ("prompt-select_account", {"prompt": "select_account"}, "flow"),
    ("prompt-none-no-session", {"prompt": "none"}, "error"),
    ("max_age-negative", {"max_age": "-1"}, "error"),
    ("max_age-float", {"max_age": "1.5"}, "error"),
    ("max_age-exp", {"max_age": "1e3"}, "error"),
    ("max_age-hex", {"max_age": "0x10"}, "error"),
    ("max_age-space", {"max_age": " 1"}, "error"),
    ("max_age-11-digits", {"max_age": "9" * 11}, "error"),
    ("max_age-superscript-no-session", {"max_age": "²"}, "invalid_request"),
    ("max_age-zero", {"max_age": "0"}, "flow"),
    ("acr-unknown", {"acr_values": "LoA9 urn:x"}, "flow"),
    ("acr-sqlish", {"acr_values": "' OR 1=1 --"}, "flow"),
    ("ui_locales-garbage", {"ui_locales": "* -- zz-ZZ-x-private ÿ"}, "flow"),
    ("claims-bad-json", {"claims": "{"}, "flow"),
    ("claims-array", {"claims": "[1,2]"}, "flow"),
    ("claims-essential-acr", {"claims": '{"id_token":{"acr":{"essential":true,'
                                        '"values":["LoA3"]}}}'}, None),
    ("id_token_hint-garbage", {"id_token_hint": "a.b.c"}, "flow"),
    ("id_token_hint-alg-none", {"id_token_hint": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},
     "flow"),
    ("display-garbage", {"display": "<script>"}, "flow"),
    # response types, modes, PKCE, request objects
    ("response_type-token", {"response_type": "token"}, "unsupported_response_type"),
    ("response_type-hybrid", {"response_type": "code id_token"}, "unsupported_response_type"),
    ("response_type-uppercase", {"response_type": "CODE"}, "unsupported_response_type"),
    ("response_type-missing", {"response_type": None}, "invalid_request"),
    ("response_mode-form_post", {"response_mode": "form_post"}, "error"),
    ("response_mode-web_message", {"response_mode": "web_message"}, "error"),
    ("pkce-plain", {"code_challenge_method": "plain"}, "error"),
    ("pkce-lowercase-method", {"code_challenge_method": "s256"}, "error"),
    ("pkce-missing", {"code_challenge": None}, "error"),
    ("request-object", {"request": "eyJhbGciOiJub25lIn0.e30."}, "error"),
    ("request_uri", {"request_uri": "https://evil.example/r"}, "error"),
    ("scope-without-openid", {"scope": "profile phone"}, "error"),
    # redirect_uri manipulation: never a redirect
    ("redirect-evil", {"redirect_uri": "https://evil.example/cb"}, "page"),
    ("redirect-scheme-relative", {"redirect_uri": "//evil.example/cb"}, "page"),
    ("redirect-javascript", {"redirect_uri": "javascript:alert(1)"}, "page"),
    ("redirect-trailing-slash", {"redirect_uri": PORTAL_CB + "/"}, "page"),
    ("redirect-fragment", {"redirect_uri": PORTAL_CB + "#x"}, "page"),
    ("redirect-extra-query", {"redirect_uri": PORTAL_CB + "?next=https://evil.example"},
     "page"),
    ("redirect-dot-segments", {"redirect_uri": "http://127.0.0.1:5001/auth/x/../callback"},
     "page"),
    ("redirect-https-variant", {"redirect_uri": PORTAL_CB.replace("http:", "https:")},
     "page"),
    ("redirect-userinfo", {"redirect_uri": "http://127.0.0.1:5001@evil.example/auth/callback"},
     "page"),
    ("redirect-of-other-client", {"redirect_uri": SPA_CB}, "page"),
    ("client-unknown", {"client_id": "evil"}, "page"),
    ("client-missing", {"client_id": None}, "page"),
]

RAW_QUERIES = [
    ("pct-ff-everywhere", "%ff=%ff&client_id=%ff&redirect_uri=%ff", "page"),
    ("pct-ff-state", "client_id=portal&redirect_uri={cb}&state=%ff%fe&response_type=code"
                     "&scope=openid&code_challenge={ch}&code_challenge_method=S256", "flow"),
    ("pct-truncated", "client_id=portal&redirect_uri={cb}&state=%&x=%%&y=%zz"
                      "&response_type=code&scope=openid&code_challenge={ch}"
                      "&code_challenge_method=S256", "flow"),
    ("array-client_id", "client_id[]=portal&redirect_uri={cb}", "page"),
    ("array-redirect_uri", "client_id=portal&redirect_uri[]={cb}", "page"),
    ("array-state", "client_id=portal&redirect_uri={cb}&state[]=x&state[0]=y&response_type=code"
                    "&scope=openid&code_challenge={ch}&code_challenge_method=S256", "flow"),
    ("dup-client_id", "client_id=portal&client_id=national&redirect_uri={cb}", "page"),
    ("dup-redirect-evil-second", "client_id=portal&redirect_uri={cb}"
                                 "&redirect_uri=https://evil.example/", "page"),
    ("dup-redirect-evil-first", "client_id=portal&redirect_uri=https://evil.example/"
                                "&redirect_uri={cb}", "page"),
    ("dup-state", "client_id=portal&redirect_uri={cb}&state=a&state=b&response_type=code"
                  "&scope=openid&code_challenge={ch}&code_challenge_method=S256", "error"),
    ("dup-scope", "client_id=portal&redirect_uri={cb}&scope=openid&scope=dvcqg"
                  "&response_type=code&code_challenge={ch}&code_challenge_method=S256", "error"),
    ("dup-code_challenge", "client_id=portal&redirect_uri={cb}&scope=openid&response_type=code"
                           "&code_challenge={ch}&code_challenge={ch}"
                           "&code_challenge_method=S256", "error"),
    ("empty-values", "client_id=portal&redirect_uri={cb}&scope=openid&response_type=code"
                     "&code_challenge={ch}&code_challenge_method=S256&state=&nonce=&prompt="
                     "&max_age=&acr_values=", "flow"),
    ("no-value-keys", "client_id=portal&redirect_uri={cb}&scope=openid&response_type=code"
                      "&code_challenge={ch}&code_challenge_method=S256&state&prompt&max_age",
     "flow"),
    ("only-separators", "&&&&==&=&", "page"),
]


def _expect(r, q, expected: str | None, path="/authorize"):
    if expected == "page":
        assert r.status_code == 400 and "Location" not in r.headers, r.status_code
        assert r.mimetype == "text/html"
    elif expected == "error":
        assert r.status_code == 302 and q is not None and "error" in q, \
            (r.status_code, r.headers.get("Location"))
    elif expected == "flow":
        assert r.status_code == 303 and r.headers["Location"].startswith("/flows/"), \
            (r.status_code, r.headers.get("Location"), r.get_data(as_text=True)[:300])
    elif expected is not None:  # an exact error code
        assert r.status_code == 302 and q is not None and q.get("error") == expected, \
            (r.status_code, r.headers.get("Location"))


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("case_id, changes, expected",
                         AUTHORIZE_CASES, ids=[c[0] for c in AUTHORIZE_CASES])
def test_authorize_fuzz(shared_app, method, case_id, changes, expected):
    c = shared_app.test_client()
    params = auth_params(challenge=challenge())
    params.update(changes)
    params = {k: v for k, v in params.items() if v is not None}
    if method == "GET":
        r = c.get("/authorize?" + urlencode(params), headers=ORIGIN)
    else:
        r = c.post("/authorize", data=params, headers=ORIGIN)
    q = check(r, "/authorize")
    _expect(r, q, expected)
    if q is not None and "state" in params:
        # Echoed unchanged, even a refused one (NUL); one too long to echo gets a page.
        assert q.get("state") == params["state"]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("case_id, raw, expected", RAW_QUERIES,
                         ids=[c[0] for c in RAW_QUERIES])
def test_authorize_raw_encodings(shared_app, method, case_id, raw, expected):
    c = shared_app.test_client()
    raw = raw.replace("{cb}", PORTAL_CB).replace("{ch}", challenge())
    if method == "GET":
        r = c.get("/authorize?" + raw, headers=ORIGIN)
    else:
        r = c.post("/authorize", data=raw.encode("latin-1"), headers=ORIGIN,
                   content_type="application/x-www-form-urlencoded")
    _expect(r, check(r, "/authorize"), expected)


@pytest.mark.parametrize("body, content_type", [
    (b'{"client_id": "portal"}', "application/json"),
    (b"client_id=portal", "text/plain"),
    (b"", "application/x-www-form-urlencoded"),
    (b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded"),
    (b"--x\r\nContent-Disposition: form-data; name=\"client_id\"; filename=\"a\"\r\n\r\n"
     b"portal\r\n--x--\r\n", "multipart/form-data; boundary=x"),
    (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
    (b"a=" + b"x" * (64 * 1024), "application/x-www-form-urlencoded"),
], ids=["json", "text", "empty", "binary", "multipart-file", "multipart-broken", "giant"])
def test_authorize_post_bodies(shared_app, body, content_type):
    c = shared_app.test_client()
    r = c.post("/authorize", data=body, content_type=content_type, headers=ORIGIN)
    check(r, "/authorize")
    assert "Location" not in r.headers  # no client could be validated from these bodies
    assert r.status_code == (413 if len(body) > 64 * 1024 else 400)


def test_authorize_preflight_and_cors_headers_are_absent(shared_app):
    c = shared_app.test_client()
    params = auth_params(challenge=challenge())
    for r in (c.options("/authorize", headers={**ORIGIN, "Access-Control-Request-Method": "POST"}),
              c.get("/authorize?" + urlencode(params), headers=ORIGIN),
              c.post("/authorize", data=params, headers=ORIGIN)):
        check(r, "/authorize")
        assert not any(h.lower().startswith("access-control-") for h in r.headers.keys())


# ---------------------------------------------------------------- with an SSO session

SSO_CASES = [
    ("max_age-superscript", {"max_age": "²"}),
    ("max_age-zero", {"max_age": "0"}),
    ("max_age-ten-digits", {"max_age": "9999999999"}),
    ("max_age-leading-zeros", {"max_age": "0000000001"}),
    ("prompt-none", {"prompt": "none"}),
    ("prompt-none-max_age-0", {"prompt": "none", "max_age": "0"}),
    ("prompt-consent", {"prompt": "consent"}),
    ("id_token_hint-garbage", {"id_token_hint": "a.b.c", "prompt": "none"}),
    ("id_token_hint-dots", {"id_token_hint": "....", "prompt": "none"}),
    ("id_token_hint-alg-none", {"id_token_hint": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
                                "prompt": "none"}),
    ("acr-LoA3-none", {"acr_values": "LoA3", "prompt": "none"}),
    ("acr-garbage", {"acr_values": "ẞ LoA0 \x01"}),
    ("claims-garbage", {"claims": '{"userinfo": 5}'}),
    ("ui_locales-en", {"ui_locales": "en-US"}),
    ("scope-unknown-only-openid", {"scope": "openid address zz"}),
    ("stepup-client", {"client_id": "stepup"}),
    ("third-party-none", {"client_id": "spa", "redirect_uri": SPA_CB, "prompt": "none"}),
]


@pytest.mark.parametrize("case_id, changes", SSO_CASES, ids=[c[0] for c in SSO_CASES])
def test_authorize_fuzz_with_sso_session(shared_app, sso_client, case_id, changes):
    params = auth_params(challenge=challenge())
    params.update(changes)
    r = sso_client.get("/authorize?" + urlencode(params), headers=ORIGIN)
    q = check(r, "/authorize")
    assert r.status_code in (302, 303), r.status_code
    if q is not None:
        assert q["state"] == params["state"]


def test_max_age_is_ascii_digits_only_even_with_a_session(shared_app, sso_client):
    """Seen from the RP: any non-ASCII 'digit' (which str.isdigit() accepts) is an
    invalid_request, neither a crash in the policy nor silently accepted."""
    for value in ("²", "٣", "１"):
        params = auth_params(challenge=challenge(), max_age=value)
        r = sso_client.get("/authorize?" + urlencode(params))
        q = check(r, "/authorize")
        assert q is not None and q["error"] == "invalid_request", value


# ---------------------------------------------------------------- odd values carried to the end

CARRY_CASES = [
    ("nonce-nul", {"nonce": "a\x00b"}),
    ("state-nul", {"state": "s\x00t"}),
    ("state-crlf-unicode", {"state": 'é"<>\r\n&iss=https://evil.example'}),
    ("state-2048", {"state": "s" * 2048}),
    ("nonce-2048", {"nonce": "n" * 2048}),
    ("nonce-unicode", {"nonce": "Nguyễn-\u202e-😀"}),
]


@pytest.mark.parametrize("case_id, changes", CARRY_CASES, ids=[c[0] for c in CARRY_CASES])
def test_odd_values_survive_login_code_and_token(shared_app, case_id, changes):
    """state comes back byte for byte (and cannot inject parameters), the nonce lands in the
    ID token unchanged, nothing breaks between the first request and the token. A value with
    a NUL byte is the one exception: it is refused up front (invalid_request, before any
    login), its state still echoed exactly (issue 11 item 5)."""
    from joserfc import jwt
    from joserfc.jwk import KeySet
    c = shared_app.test_client()
    verifier, chal = pkce_pair()
    params = auth_params(challenge=chal, **changes)
    r = authorize(c, params)
    first = check(r, "/authorize")
    if any("\x00" in value for value in changes.values()):
        assert r.status_code == 302 and first is not None, r.status_code
        assert first["error"] == "invalid_request" and "code" not in first
        assert first["state"] == params["state"]
        return
    assert r.status_code == 303 and first is None, (r.status_code, first)
    page = follow_to_login(c, r)
    r = login_form_submit(c, page.get_data(as_text=True), CITIZEN.id_number, CITIZEN.password,
                          second_factor=True)
    check(r)
    r = c.get(r.headers["Location"])
    q = check(r, "/authorize/resume")
    assert r.status_code == 302 and q is not None and "code" in q
    pairs = parse_qsl(urlsplit(r.headers["Location"]).query, keep_blank_values=True)
    assert [v for k, v in pairs if k == "state"] == [params["state"]]
    t = token_request(c, q["code"], verifier)
    assert t.status_code == 200, t.get_data(as_text=True)
    keys = KeySet.import_key_set(c.get("/jwks.json").get_json())
    claims = jwt.decode(t.get_json()["id_token"], keys, algorithms=["ES256", "RS256"]).claims
    assert claims["nonce"] == params["nonce"]


# ================================================================ token-side endpoints

def _b64(raw: bytes | str) -> str:
    return base64.b64encode(raw.encode() if isinstance(raw, str) else raw).decode()


AUTH_HEADERS = [
    ("not-base64", "Basic !!!!"),
    ("no-colon", "Basic " + _b64("portal")),
    ("colon-only", "Basic " + _b64(":")),
    ("basic-word-only", "Basic"),
    ("basic-trailing-space", "Basic "),
    ("basic-vertical-tab", "Basic \x0b"),
    ("non-ascii", "Basic é"),
    ("bad-utf8", "Basic " + _b64(b"\xff\xfe:\xff")),
    ("nul-client-id", "Basic " + _b64("por\x00tal:" + SECRET)),
    ("pct-nul-client-id", "Basic " + _b64("%00:%00")),
    ("pct-ff", "Basic " + _b64("%ff:%ff")),
    ("unicode-client-id", "Basic " + _b64("pörtal:x")),
    ("huge", "Basic " + _b64("a" * 3000 + ":" + "b" * 3000)),
    ("wrong-secret", "Basic " + _b64("portal:wrong")),
    ("bearer", "Bearer abc"),
    ("digest", 'Digest username="portal"'),
    ("lowercase-scheme-tab", "basic\t" + _b64("portal:wrong")),
]
TOKEN_PATHS = ["/token", "/revoke", "/introspect"]


@pytest.mark.parametrize("path", TOKEN_PATHS)
@pytest.mark.parametrize("case_id, header", AUTH_HEADERS, ids=[c[0] for c in AUTH_HEADERS])
def test_malformed_client_authentication(shared_app, path, case_id, header):
    """Whatever the Authorization header holds, a client that tried to authenticate with it and
    failed gets 401 invalid_client with WWW-Authenticate (RFC 6749 §5.2), never a crash."""
    c = shared_app.test_client()
    data = {"grant_type": "authorization_code", "code": "x" * 40, "redirect_uri": PORTAL_CB,
            "code_verifier": "v" * 50, "token": "t" * 40}
    r = c.post(path, data=data, headers={"Authorization": header})
    check(r, path)
    assert r.mimetype == "application/json"
    assert r.status_code == 401, (r.status_code, r.get_json())
    assert r.get_json()["error"] == "invalid_client"
    assert r.headers.get("WWW-Authenticate")
    if path == "/token":
        assert r.headers["Cache-Control"] == "no-store" and r.headers["Pragma"] == "no-cache"


BODIES = [
    ("json", dict(json={"grant_type": "authorization_code", "code": "x", "token": "x"})),
    ("text", dict(data="grant_type=authorization_code", content_type="text/plain")),
    ("empty", dict()),
    ("invalid-utf8", dict(data=b"grant_type=%ff%fe&code=%ff&token=%ff",
                          content_type="application/x-www-form-urlencoded")),
    ("nul-grant-type", dict(data={"grant_type": "\x00", "token": "\x00"})),
    ("weird-grant-type", dict(data={"grant_type": 'é"\\\x01<x>', "token": "x"})),
    ("array-params", dict(data=b"grant_type[]=authorization_code&code[]=x&token[]=x",
                          content_type="application/x-www-form-urlencoded")),
    ("multipart-file", lambda: dict(data={"grant_type": "authorization_code",
                                          "code": (io.BytesIO(b"x"), "a.txt"), "token": "x"},
                                    content_type="multipart/form-data")),
    ("nul-refresh-token", dict(data={"grant_type": "refresh_token", "refresh_token": "\x00",
                                     "token": "\x00", "token_type_hint": "\x00"})),
    ("huge-refresh-token", dict(data={"grant_type": "refresh_token", "refresh_token": "r" * 9000,
                                      "token": "r" * 9000})),
    ("weird-token-type-hint", dict(data={"token": "x", "token_type_hint": 'é"\x01'})),
]


@pytest.mark.parametrize("path", TOKEN_PATHS)
@pytest.mark.parametrize("case_id, kwargs", BODIES, ids=[c[0] for c in BODIES])
def test_malformed_token_endpoint_bodies(shared_app, path, case_id, kwargs):
    c = shared_app.test_client()
    r = c.post(path, headers=basic(), **(kwargs() if callable(kwargs) else kwargs))
    check(r, path)
    assert r.mimetype == "application/json"
    if path == "/token":
        assert 400 <= r.status_code < 500
        assert r.headers["Cache-Control"] == "no-store"
        error = r.get_json()["error"]
        assert error in ("invalid_request", "invalid_grant", "unsupported_grant_type")
        if "error_description" in r.get_json():
            assert ERROR_DESCRIPTION.fullmatch(r.get_json()["error_description"])
    else:  # unknown tokens: revocation says 200, introspection says inactive (or refuses)
        assert r.status_code in (200, 400, 401)
        if path == "/introspect" and r.status_code == 200:
            assert r.get_json() == {"active": False}


@pytest.mark.parametrize("path", TOKEN_PATHS)
def test_client_post_with_nul_client_id(shared_app, path):
    """A NUL in client_id never reaches the database: it is an unknown client."""
    c = shared_app.test_client()
    answers = []
    for client_id in ("portal-post\x00", "portal-post-unknown"):
        r = c.post(path, data={"grant_type": "authorization_code", "code": "x", "token": "x",
                               "client_id": client_id, "client_secret": SECRET})
        check(r, path)
        assert r.status_code in (400, 401) and r.get_json()["error"] == "invalid_client"
        answers.append((r.status_code, r.get_json()))
    assert answers[0] == answers[1]


@pytest.mark.parametrize("path", TOKEN_PATHS + ["/userinfo"])
def test_bodies_over_64_kib_are_413(shared_app, path):
    c = shared_app.test_client()
    r = c.post(path, data={"grant_type": "authorization_code", "code": "c" * (65 * 1024)},
               headers=basic())
    check(r, path)
    assert r.status_code == 413 and r.mimetype == "application/json"


USERINFO_HEADERS = [
    {}, {"Authorization": "Bearer"}, {"Authorization": "Bearer "}, {"Authorization": "Bearer \x00"},
    {"Authorization": "Bearer é"}, {"Authorization": "Bearer " + "x" * 5000},
    {"Authorization": "Basic " + _b64("portal:" + SECRET)}, {"Authorization": "Bearer a b"},
    {"Authorization": "Bearer\tabc"}, {"Authorization": "DPoP abc"},
    {"Authorization": "Bearer abc", "Content-Type": "application/json"},
]


@pytest.mark.parametrize("headers", USERINFO_HEADERS,
                         ids=[str(i) for i in range(len(USERINFO_HEADERS))])
def test_userinfo_bad_credentials(shared_app, headers):
    c = shared_app.test_client()
    for method in ("GET", "POST"):
        r = c.open("/userinfo", method=method, headers=headers,
                   data={"access_token": "\x00" * 10} if method == "POST" and not headers
                   else None)
        check(r, "/userinfo")
        assert r.status_code == 401, method
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert "no-store" in r.headers.get("Cache-Control", "")


# ---------------------------------------------------------------- methods

METHOD_PATHS = ["/token", "/revoke", "/introspect", "/userinfo", "/authorize", "/flows/abc",
                "/authorize/resume/abc", "/captcha/abcdefghijklmnopqrstuv.png",
                "/captcha/refresh", "/jwks.json", "/.well-known/openid-configuration"]


@pytest.mark.parametrize("path", METHOD_PATHS)
def test_unexpected_methods(shared_app, path):
    c = shared_app.test_client()
    for method in ("HEAD", "PUT", "DELETE", "PATCH", "TRACE"):
        r = c.open(path, method=method, headers=ORIGIN)
        check(r, path)
        if method == "HEAD":
            assert r.get_data() == b""
            assert r.status_code in (200, 400, 401, 404, 405, 410), (method, r.status_code)
        else:
            assert r.status_code == 405, (method, r.status_code)
        if path in ("/token", "/revoke", "/introspect", "/userinfo") and method != "HEAD":
            assert r.mimetype == "application/json", method


@pytest.mark.parametrize("path, method", [("/token", "GET"), ("/authorize", "PUT"),
                                          ("/flows/abc", "DELETE")])
def test_405_lists_the_allowed_methods(shared_app, path, method):
    r = shared_app.test_client().open(path, method=method)
    assert r.status_code == 405
    assert "POST" in r.headers.get("Allow", "")


# ================================================================ flows, resume, captcha ids

GARBAGE_IDS = [
    "x", "a" * 64, "a" * 65, "a" * 10000, "%ff%fe", "..", "<script>alert(1)</script>",
    "é" * 30, "%00", "abc%00def", "%0d%0aSet-Cookie:%20x=y", "AAAAAAAAAAAAAAAAAAAAAA%0A",
    "-" * 22,
]
GARBAGE_IDS_IDS = ["x", "64", "65", "10000", "pct-ff", "dotdot", "script", "unicode", "nul",
                   "inner-nul", "crlf", "trailing-newline", "dashes"]


@pytest.mark.parametrize("flow_id", GARBAGE_IDS, ids=GARBAGE_IDS_IDS)
def test_garbage_flow_ids(shared_app, flow_id):
    c = shared_app.test_client()
    r = c.get("/flows/" + flow_id)
    check(r)
    assert r.status_code in (404, 410)
    r = c.post("/flows/" + flow_id, data={"username": "1", "password": "x"})
    check(r)
    assert r.status_code in (400, 404, 410)
    assert not any("idp_sso" in v for v in r.headers.getlist("Set-Cookie"))


@pytest.mark.parametrize("uid", GARBAGE_IDS, ids=GARBAGE_IDS_IDS)
def test_garbage_resume_uids(shared_app, sso_client, uid):
    r = sso_client.get("/authorize/resume/" + uid)
    check(r, "/authorize/resume")
    assert r.status_code in (400, 404) and "Location" not in r.headers


@pytest.mark.parametrize("captcha_id", GARBAGE_IDS, ids=GARBAGE_IDS_IDS)
def test_garbage_captcha_ids(shared_app, captcha_id):
    c = shared_app.test_client()
    for suffix in (".png", ".wav"):
        r = c.get("/captcha/" + captcha_id + suffix)
        check(r)
        assert r.status_code == 404
    # The test hook (on in the test suite) must not break either.
    r = c.get("/_test/captcha/" + captcha_id)
    check(r)
    assert r.status_code == 404


def _login_page(c, **extra):
    r = authorize(c, auth_params(challenge=challenge(), **extra))
    return r.headers["Location"], follow_to_login(c, r).get_data(as_text=True)


def test_flow_posts_without_or_with_a_bad_csrf_token(shared_app):
    c = shared_app.test_client()
    url, html = _login_page(c)
    captcha_id = hidden(html, "captcha_id")
    answer = c.get(f"/_test/captcha/{captcha_id}").get_data(as_text=True)
    creds = {"captcha_id": captcha_id, "captcha": answer, "username": CITIZEN.id_number,
             "password": CITIZEN.password}
    other = shared_app.test_client()
    _, other_html = _login_page(other)
    for token in (None, "", "garbage", "\x00", "a" * 5000, hidden(other_html, "csrf_token")):
        data = dict(creds) if token is None else dict(creds, csrf_token=token)
        r = c.post(url, data=data)
        check(r)
        assert r.status_code == 400
        assert not any("idp_sso" in v for v in r.headers.getlist("Set-Cookie"))
    # The captcha was never reached, so it is still usable: nothing was consumed by the
    # refused posts, and the real form still works.
    r = login_form_submit(c, html, CITIZEN.id_number, CITIZEN.password, answer)
    assert r.status_code == 303


GARBAGE_FORMS = [
    ("empty", {}),
    ("nul-everything", {"username": "\x00" * 12, "password": "\x00", "captcha": "\x00",
                        "captcha_id": "\x00" * 22}),
    ("fullwidth-digits", {"username": "０６６０８９００１２３４", "password": "x"}),
    ("lists", MultiDict([("username", "1"), ("username", "2"), ("password", "a"),
                         ("password", "b"), ("captcha", "x"), ("captcha", "y")])),
    ("huge", {"username": "1" * 20000, "password": "p" * 20000, "captcha": "c" * 20000}),
    ("captcha-id-newline", {"captcha_id": "A" * 22 + "\n", "captcha": "abcdef"}),
    ("unknown-action", {"action": "\x00", "username": "1"}),
    ("invalid-utf8-raw", b"username=%ff%fe&password=%ff&captcha=%ff&captcha_id=%ff"),
]


@pytest.mark.parametrize("case_id, form", GARBAGE_FORMS, ids=[c[0] for c in GARBAGE_FORMS])
def test_login_flow_with_csrf_but_garbage_fields(shared_app, case_id, form):
    c = shared_app.test_client()
    url, html = _login_page(c)
    csrf = hidden(html, "csrf_token")
    if isinstance(form, bytes):
        r = c.post(url, data=form + b"&csrf_token=" + csrf.encode(),
                   content_type="application/x-www-form-urlencoded")
    else:
        data = MultiDict(form)
        data["csrf_token"] = csrf
        r = c.post(url, data=data)
    check(r)
    assert r.status_code == 400
    assert "Location" not in r.headers
    assert not any("idp_sso" in v for v in r.headers.getlist("Set-Cookie"))


@pytest.mark.parametrize("username, password", [
    (CITIZEN2.id_number, "\x00"),
    (CITIZEN2.id_number, CITIZEN2.password + "\x00"),
    (CITIZEN2.id_number, "ệ" * 1024),
])
def test_login_with_a_solved_captcha_and_hostile_passwords(shared_app, username, password):
    c = shared_app.test_client()
    _, html = _login_page(c)
    r = login_form_submit(c, html, username, password)
    check(r)
    assert r.status_code == 400 and "không đúng" in r.get_data(as_text=True)
    assert not any("idp_sso" in v for v in r.headers.getlist("Set-Cookie"))


def test_password_over_1024_chars_is_refused_without_hashing(shared_app, monkeypatch):
    calls = _count_verifies(monkeypatch)
    c = shared_app.test_client()
    _, html = _login_page(c)
    r = login_form_submit(c, html, CITIZEN2.id_number, "p" * 1025)
    check(r)
    assert r.status_code == 400 and calls == []


def test_consent_with_a_garbage_action_is_a_denial(shared_app):
    """Fail closed: anything but action=allow denies."""
    c = shared_app.test_client()
    params = auth_params(client_id="spa", redirect_uri=SPA_CB, challenge=challenge(),
                         scope="openid phone")
    r = authorize(c, params)
    html = follow_to_login(c, r).get_data(as_text=True)
    r = c.get(login_form_submit(c, html, CITIZEN.id_number, CITIZEN.password,
                                second_factor=True).headers["Location"])
    html = c.get(r.headers["Location"]).get_data(as_text=True)
    r = c.post(form_action(html), data=MultiDict([("csrf_token", hidden(html, "csrf_token")),
                                                  ("action", "ALLOW "), ("action", "allow")]))
    check(r)
    r = c.get(r.headers["Location"])
    q = check(r, "/authorize/resume")
    assert q is not None and q["error"] == "access_denied" and "code" not in q


def test_captcha_refresh_with_odd_bodies(shared_app):
    c = shared_app.test_client()
    _, html = _login_page(c)
    csrf = {"X-CSRFToken": hidden(html, "csrf_token")}
    r = c.post("/captcha/refresh", json={"captcha_id": "x"})
    check(r)
    assert r.status_code == 400  # no CSRF token
    for kwargs in (dict(json=["x"]), dict(json={"captcha_id": ["x"]}), dict(json=5),
                   dict(data="null", content_type="application/json"),
                   dict(data="{", content_type="application/json"),
                   dict(data={"captcha_id": "\x00"})):
        r = c.post("/captcha/refresh", headers=csrf, **kwargs)
        check(r)
        # No live challenge of this browser to replace (and inherit the flow of): 404, and
        # idp.js reloads the page instead (issue 11 item 5).
        assert r.status_code == 404 and "captcha_id" not in r.get_json()
        assert r.headers["Cache-Control"] == "no-store"


# ================================================================ headers

def test_every_html_page_is_hardened(client):
    """Login, consent, error pages (400, 404, 405, 410, 413) and the redirects between them."""
    responses = []
    params = auth_params(client_id="spa", redirect_uri=SPA_CB, challenge=challenge())
    r = authorize(client, params)
    responses.append(r)
    login = follow_to_login(client, r)
    responses.append(login)
    r = login_form_submit(client, login.get_data(as_text=True), CITIZEN.id_number,
                          CITIZEN.password)
    responses.append(r)
    sms_page = client.get(r.headers["Location"])  # the SMS code page (login_min_acr LoA2)
    assert 'name="otp"' in sms_page.get_data(as_text=True)
    responses.append(sms_page)
    r = finish_sms_step(client, r, CITIZEN.id_number)
    responses.append(r)
    r = client.get(r.headers["Location"])
    responses.append(r)
    consent = client.get(r.headers["Location"])
    assert consent.status_code == 200 and hidden(consent.get_data(as_text=True), "csrf_token")
    responses.append(consent)
    responses.append(authorize(client, auth_params(client_id="nobody", challenge=challenge())))
    responses.append(client.get("/no-such-page"))
    responses.append(client.put("/authorize"))
    responses.append(client.get("/flows/gone-gone-gone"))
    responses.append(client.post("/flows/x", data={"a": "b" * (65 * 1024)}))
    responses.append(client.get("/authorize/resume/nothing"))
    html_pages = [x for x in responses if x.mimetype == "text/html"]
    assert len(html_pages) == len(responses)
    for x in html_pages:
        check(x)
        assert x.headers.get("Referrer-Policy") == "no-referrer"


def test_token_responses_are_never_cached(client):
    verifier, chal = pkce_pair()
    q = login_and_get_code(client, auth_params(challenge=chal, scope="openid offline_access"))
    ok = token_request(client, q["code"], verifier)
    refreshed = client.post("/token", data={"grant_type": "refresh_token",
                                            "refresh_token": ok.get_json()["refresh_token"]},
                            headers=basic())
    errors = [token_request(client, "nope", verifier),
              token_request(client, "nope", verifier, secret="wrong"),
              client.post("/token", data={"grant_type": "password"}, headers=basic())]
    introspection = client.post("/introspect", data={"token": ok.get_json()["access_token"]},
                                headers=basic())
    userinfo = client.get("/userinfo",
                          headers={"Authorization": "Bearer " + ok.get_json()["access_token"]})
    assert ok.status_code == refreshed.status_code == introspection.status_code == 200
    for r in [ok, refreshed, *errors]:
        assert r.headers["Cache-Control"] == "no-store" and r.headers["Pragma"] == "no-cache"
    for r in (introspection, userinfo):
        assert r.headers["Cache-Control"] == "no-store"


def test_host_and_forwarded_headers_do_not_steer_redirects(client):
    params = auth_params(challenge=challenge())
    for headers in ({"Host": "evil.example"},
                    {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}):
        r = client.get("/authorize?" + urlencode(params), headers=headers)
        check(r, "/authorize")
        assert "evil" not in r.headers["Location"]
    r = client.get("/authorize?" + urlencode(auth_params(challenge=challenge(), prompt="none")),
                   headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"})
    q = check(r, "/authorize")  # the redirect goes to the registered URI...
    assert q is not None and q["iss"] == ISSUER  # ...and iss is the configured issuer


# ================================================================ timing parity (structure)

def _count_verifies(monkeypatch) -> list:
    import idp.platform.crypto
    cls = type(idp.platform.crypto._hasher)
    original = cls.verify
    calls = []

    def counting(self, hash_, password):
        calls.append(hash_)
        return original(self, hash_, password)

    monkeypatch.setattr(cls, "verify", counting)
    return calls


def test_unknown_id_number_and_wrong_password_do_the_same_argon2_work(client, monkeypatch):
    import idp.platform.crypto
    calls = _count_verifies(monkeypatch)
    answers = {}
    for who in (CITIZEN.id_number, "066089999999", "123456789", CITIZEN2.id_number):
        _, html = _login_page(client)
        before = len(calls)
        r = login_form_submit(client, html, who, "definitely-not-the-password")
        assert r.status_code == 400
        assert len(calls) - before == 1, (who, len(calls) - before)
        answers[who] = re.sub(r'value="[^"]*"', "", r.get_data(as_text=True))
        answers[who] = re.sub(r"[A-Za-z0-9_-]{20,}", "", answers[who])  # ids, tokens
    # The unknown account verified the dummy hash, a real one verified its own hash.
    dummy = idp.platform.crypto._dummy_hash()
    assert calls[1] == dummy and calls[2] == dummy
    assert calls[0] != dummy and calls[3] != dummy
    assert len(set(answers.values())) == 1  # same page, same message


def test_throttled_known_and_unknown_accounts_do_the_same_work(app, client, monkeypatch):
    limit = app.config["IDP"]["login_max_failures"]
    calls = _count_verifies(monkeypatch)
    for who in (CITIZEN.id_number, "066089999999"):
        for _ in range(limit):
            _, html = _login_page(client)
            assert login_form_submit(client, html, who, "wrong-password-xyz").status_code == 400
        before = len(calls)
        _, html = _login_page(client)
        r = login_form_submit(client, html, who, "wrong-password-xyz")
        assert r.status_code == 429
        assert len(calls) == before  # no hashing while throttled, for both
    assert len(calls) == 2 * limit


# ================================================================ cross-browser binding

def test_flow_id_from_another_browser_is_refused_and_harmless(app):
    victim, attacker = app.test_client(), app.test_client()
    url, html = _login_page(victim)
    _, attacker_html = _login_page(attacker)
    r = attacker.get(url)
    check(r)
    assert r.status_code == 410
    # Even with a valid CSRF token of its own and a solved captcha.
    captcha_id = hidden(attacker_html, "captcha_id")
    answer = attacker.get(f"/_test/captcha/{captcha_id}").get_data(as_text=True)
    r = attacker.post(url, data={"csrf_token": hidden(attacker_html, "csrf_token"),
                                 "captcha_id": captcha_id, "captcha": answer,
                                 "username": CITIZEN.id_number, "password": CITIZEN.password})
    check(r)
    assert r.status_code == 410
    assert not any("idp_sso" in v for v in r.headers.getlist("Set-Cookie"))
    # The victim's flow is intact.
    r = login_form_submit(victim, html, CITIZEN.id_number, CITIZEN.password)
    assert r.status_code == 303


def test_resume_uid_from_another_browser_is_refused_and_not_consumed(app):
    victim, attacker = app.test_client(), app.test_client()
    login_and_get_code(attacker, auth_params(challenge=challenge()))  # attacker has a session
    params = auth_params(challenge=challenge())
    r = authorize(victim, params)
    html = follow_to_login(victim, r).get_data(as_text=True)
    r = login_form_submit(victim, html, CITIZEN2.id_number, CITIZEN2.password,
                          second_factor=True)
    resume = r.headers["Location"]
    assert resume.startswith("/authorize/resume/")
    for _ in range(2):
        stolen = attacker.get(resume)
        check(stolen, "/authorize/resume")
        assert stolen.status_code == 400 and "Location" not in stolen.headers
    r = victim.get(resume)
    q = check(r, "/authorize/resume")
    assert q is not None and q["code"] and q["state"] == params["state"]


def test_csrf_token_of_another_browser_is_refused(app):
    a, b = app.test_client(), app.test_client()
    url_a, html_a = _login_page(a)
    _, html_b = _login_page(b)
    captcha_id = hidden(html_a, "captcha_id")
    answer = a.get(f"/_test/captcha/{captcha_id}").get_data(as_text=True)
    r = a.post(url_a, data={"csrf_token": hidden(html_b, "csrf_token"), "captcha_id": captcha_id,
                            "captcha": answer, "username": CITIZEN.id_number,
                            "password": CITIZEN.password})
    check(r)
    assert r.status_code == 400


# ================================================================ code binding, PKCE downgrade

def _fresh_code(client, **extra):
    verifier, chal = pkce_pair()
    q = login_and_get_code(client, auth_params(challenge=chal, **extra))
    return q["code"], verifier, chal


@pytest.mark.parametrize("other", [
    dict(client_id="stepup"),  # same redirect URI, same secret
    dict(client_id="portal-post", auth="post"),
    dict(client_id="national", redirect_uri=NATIONAL_CB),
    dict(client_id="spa", redirect_uri=SPA_CB, auth="none"),
])
def test_code_is_bound_to_its_client(shared_app, other):
    client = shared_app.test_client()
    code, verifier, _ = _fresh_code(client)
    r = token_request(client, code, verifier, **other)
    assert r.status_code in (400, 401)
    assert r.get_json()["error"] in ("invalid_grant", "invalid_client")
    assert "access_token" not in r.get_json()
    # The rightful client still redeems it.
    assert token_request(client, code, verifier).status_code == 200


@pytest.mark.parametrize("redirect_uri", [None, PORTAL_CB + "/", PORTAL_CB + "?x=1",
                                          PORTAL_CB.upper(), NATIONAL_CB, "",
                                          PORTAL_CB + "\x00"])
def test_code_is_bound_to_its_redirect_uri(shared_app, redirect_uri):
    client = shared_app.test_client()
    code, verifier, _ = _fresh_code(client)
    data = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier}
    if redirect_uri is not None:
        data["redirect_uri"] = redirect_uri
    r = client.post("/token", data=data, headers=basic())
    check(r, "/token")
    assert r.status_code == 400 and r.get_json()["error"] in ("invalid_grant", "invalid_request")
    assert "access_token" not in r.get_json()


@pytest.mark.parametrize("verifier_kind", ["missing", "empty", "challenge-as-verifier",
                                           "verifier-of-another-code", "too-long", "nul"])
def test_pkce_downgrade_and_substitution_are_refused(shared_app, verifier_kind):
    client = shared_app.test_client()
    code, verifier, chal = _fresh_code(client)
    other_code, other_verifier, _ = _fresh_code(client, prompt="login")
    bad = {"missing": None, "empty": "", "challenge-as-verifier": chal,
           "verifier-of-another-code": other_verifier, "too-long": verifier * 4,
           "nul": verifier[:-1] + "\x00"}[verifier_kind]
    r = token_request(client, code, bad)
    check(r, "/token")
    assert r.status_code == 400
    assert r.get_json()["error"] in ("invalid_request", "invalid_grant")
    assert "access_token" not in r.get_json()


def test_code_from_a_query_string_is_not_accepted(shared_app):
    client = shared_app.test_client()
    """Codes and verifiers belong in the body (RFC 6749 §4.1.3), never in a logged URL."""
    code, verifier, _ = _fresh_code(client)
    r = client.post("/token?" + urlencode({"grant_type": "authorization_code", "code": code,
                                           "redirect_uri": PORTAL_CB,
                                           "code_verifier": verifier}), headers=basic())
    assert r.status_code == 400 and "access_token" not in r.get_json()


def test_client_secret_in_the_query_string_does_not_authenticate(shared_app):
    client = shared_app.test_client()
    code, verifier, _ = _fresh_code(client, client_id="portal-post")
    r = client.post("/token?" + urlencode({"client_id": "portal-post", "client_secret": SECRET}),
                    data={"grant_type": "authorization_code", "code": code,
                          "redirect_uri": PORTAL_CB, "code_verifier": verifier})
    assert r.status_code == 401 and r.get_json()["error"] == "invalid_client"


def test_token_of_one_client_cannot_be_revoked_by_another(shared_app):
    client = shared_app.test_client()
    code, verifier, _ = _fresh_code(client)
    at = token_request(client, code, verifier).get_json()["access_token"]
    for r in (client.post("/revoke", data={"token": at}, headers=basic("portal-post")),
              client.post("/revoke", data={"token": at, "client_id": "portal-post",
                                           "client_secret": SECRET}),
              client.post("/revoke", data={"token": at, "client_id": "spa"})):
        check(r, "/revoke")
    assert client.get("/userinfo", headers={"Authorization": "Bearer " + at}).status_code == 200


@pytest.mark.parametrize("extra", [("code", "other-code"),
                                   ("redirect_uri", "https://evil.example/"),
                                   ("code_verifier", "v" * 50), ("grant_type", "refresh_token")],
                         ids=["code", "redirect_uri", "code_verifier", "grant_type"])
def test_token_endpoint_refuses_repeated_parameters(shared_app, extra):
    """RFC 6749 §3.2: request parameters MUST NOT be included more than once."""
    client = shared_app.test_client()
    code, verifier, _ = _fresh_code(client)
    data = MultiDict([("grant_type", "authorization_code"), ("code", code),
                      ("redirect_uri", PORTAL_CB), ("code_verifier", verifier), extra])
    r = client.post("/token", data=data, headers=basic())
    check(r, "/token")
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_request"
    assert "access_token" not in r.get_json()
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Pragma"] == "no-cache"
    # Refused before anything was done: the code was not consumed.
    assert token_request(client, code, verifier).status_code == 200


@pytest.mark.parametrize("path", ["/revoke", "/introspect"])
@pytest.mark.parametrize("extra", [("token", "t" * 40), ("token_type_hint", "refresh_token")],
                         ids=["token", "token_type_hint"])
def test_revocation_and_introspection_refuse_repeated_parameters(shared_app, path, extra):
    client = shared_app.test_client()
    code, verifier, _ = _fresh_code(client)
    at = token_request(client, code, verifier).get_json()["access_token"]
    data = MultiDict([("token", at), ("token_type_hint", "access_token"), extra])
    r = client.post(path, data=data, headers=basic())
    check(r, path)
    assert r.status_code == 400 and r.mimetype == "application/json"
    assert r.get_json()["error"] == "invalid_request" and "active" not in r.get_json()
    # Refused before anything was done: the token is still live.
    assert client.get("/userinfo", headers={"Authorization": "Bearer " + at}).status_code == 200


@pytest.mark.parametrize("name", ["_duplicate", "_too_long", "duplicate", "too_long", "control",
                                  "params"])
def test_unknown_parameters_named_like_internal_markers_are_ignored(shared_app, name):
    """RFC 6749 §3.1: unrecognized parameters are ignored, whatever their name (they are not
    stored next to the provider's own bookkeeping), even when repeated."""
    client = shared_app.test_client()
    params = auth_params(challenge=challenge(), **{name: "client_id"})
    r = authorize(client, params)
    check(r, "/authorize")
    assert r.status_code == 303 and r.headers["Location"].startswith("/flows/")
    r = client.get("/authorize?" + urlencode(params) + "&" + urlencode({name: "redirect_uri"}))
    check(r, "/authorize")
    assert r.status_code == 303 and r.headers["Location"].startswith("/flows/")


def test_no_redirect_is_ever_a_307_even_after_credential_posts(client):
    """RFC 9700 §4.12: after a POST carrying credentials, 303 (never 307)."""
    params = auth_params(challenge=challenge())
    r = authorize(client, params, method="POST")
    assert r.status_code == 303
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    r = login_form_submit(client, html, CITIZEN.id_number, CITIZEN.password)
    assert r.status_code == 303  # to the SMS code page
    r = finish_sms_step(client, r, CITIZEN.id_number)
    assert r.status_code == 303
    r = client.get(r.headers["Location"])
    q = check(r, "/authorize/resume")
    assert r.status_code == 302 and q["code"]


# ================================================================ start-up under concurrency

def test_translations_compile_safely_when_workers_start_together(tmp_path, monkeypatch):
    """When the .po is newer than the .mo (after a deploy or an edit) several workers starting
    at once each compile it: none may crash, and the catalogue ends up whole."""
    import shutil
    import threading

    from idp.platform import i18n
    shutil.copytree(i18n.TRANSLATIONS, tmp_path / "translations")
    for mo in (tmp_path / "translations").glob("*/LC_MESSAGES/messages.mo"):
        mo.unlink()  # stale or missing: every starting worker compiles
    monkeypatch.setattr(i18n, "TRANSLATIONS", tmp_path / "translations")
    both_written = threading.Barrier(2, timeout=3)
    original = i18n.write_mo

    def write_then_wait(fh, catalog):  # both workers have written before either renames
        original(fh, catalog)
        fh.flush()
        try:
            both_written.wait()
        except threading.BrokenBarrierError:
            pass  # an implementation that serialises compilation never gets here twice

    monkeypatch.setattr(i18n, "write_mo", write_then_wait)
    errors = []

    def start_worker():
        try:
            i18n.ensure_compiled()
        except Exception as exc:  # noqa: BLE001 - any exception is a crashed start-up
            errors.append(exc)

    workers = [threading.Thread(target=start_worker) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert all(mo.stat().st_size > 0
               for mo in (tmp_path / "translations").glob("*/LC_MESSAGES/messages.mo"))


def test_first_start_of_two_workers_creates_one_kek_without_crashing(tmp_path, monkeypatch):
    """On a fresh install two processes starting together both see no KEK file: neither may
    crash, and both end up with the same key."""
    import threading

    from idp.platform import keys
    monkeypatch.setenv("IDP_KEK_FILE", str(tmp_path / "kek.key"))
    both_checked = threading.Barrier(2, timeout=3)
    real_os = keys.os
    creating = {"open", "link", "rename", "replace", "symlink"}
    reached = []  # workers that got as far as creating a file

    class OsWaitingBeforeCreate:  # both workers have seen "no file yet" before either creates
        def __getattr__(self, name):
            call = getattr(real_os, name)
            if name not in creating:
                return call

            def wait_then_call(*args, **kwargs):
                if threading.current_thread() not in reached:  # each worker's first creation
                    reached.append(threading.current_thread())
                    try:
                        both_checked.wait()
                    except threading.BrokenBarrierError:
                        pass  # an implementation that serialises creation gets here alone
                return call(*args, **kwargs)
            return wait_then_call

    monkeypatch.setattr(keys, "os", OsWaitingBeforeCreate())
    results, errors = [], []

    def start_worker():
        try:
            results.append(keys.load_kek({"env": "development"}, create=True))
        except Exception as exc:  # noqa: BLE001 - any exception is a crashed start-up
            errors.append(exc)

    workers = [threading.Thread(target=start_worker) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert reached, "no file was created through keys.os: the race was not simulated"
    assert errors == []
    assert len(results) == 2 and results[0] == results[1] and len(results[0]) == 32
