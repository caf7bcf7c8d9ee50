"""Citizen registration by mobile subscription (seed §1, issue 5), as an authorization step:
started from the login page ("Chưa có tài khoản? Đăng ký", flows/register_views.from_login) or by an
RP with `prompt=create` (policy.decide); when it finishes the citizen is logged in at LoA2 and
the pending authorization resumes, so the RP gets its code.

    stateDiagram-v2
      [*] --> choose
      choose --> form: Công dân + Thuê bao di động (other options: disabled, "chưa hỗ trợ")
      choose --> sign: an IAL3 carrier (USB ký số …): a citizen, a business or an agency
                       signs with its certificate (register/certificate.py has that path)
      choose --> vnpost: "Bưu điện Việt Nam": how registration at a counter works (the clerk's
                         side: staff/counter.py); "Kích hoạt tài khoản" hands the authorization
                         over to the activation with the slip's code (register/activate.py)
      form --> code: captcha, every field valid, consent → OTP sent to the phone
      code --> code: resend (otp.py cooldown per phone, ≤ 5 codes per phone)
      code --> password: possession (OTP) → ownership (carrier KYC) → no account yet
      code --> unavailable: KYC port down (retry without a new code)
      code --> mismatch: KYC says the subscription is not in this ID number's name
      code --> exists: this ID number (or this phone) already has an account
      mismatch --> form: correct the data (captcha credit, a new code to the corrected phone)
      password --> done: account created atomically, logged in LoA2 ("Đăng ký thành công")
      done --> [*]: "Tiếp tục": the authorization resumes

Possession and ownership are separate steps with their own audit events:
`register.possession_ok` (the OTP to the entered phone was typed back) and
`register.ownership_ok` / `register.ownership_mismatch` (kyc.match: the carrier has this
subscription registered to this ID number, and to this name and birth date when it knows
them — see accounts/kyc.py for the comparison).

Enumeration (issue 5 item 5, security-requirements §6.3). Until the OTP has proven possession
of the phone, every well-formed submission gets the same answer: "a code was sent to <the phone
you typed>"; nothing about accounts or the carrier's records is looked up before that, so
neither the answer, nor its status, nor its timing depends on them. The refusals the form can
give before the code (captcha, field rules, cooldown, per-phone/per-IP/global SMS budgets, the
SMS gateway failing) depend only on what the caller typed and on the phone, never on an
account. Only after possession:
  1. the carrier KYC check. A mismatch is reported ("this subscription is not registered in
     the name of this ID number / these details") — the caller holds this phone, so they
     learn only about their own subscription, something the carrier would tell them too, and
     each further try costs a form submission under the captcha credit below and a new SMS
     code typed back (≤ KYC_MAX_PER_FLOW carrier queries per flow, per-phone budget an hour);
  2. only when the subscription is registered to the ID number entered: whether that ID number
     already has an account. If it has, the page says so and offers "Quên mật khẩu" (seed §1)
     and "Khiếu nại: tài khoản này không phải của tôi" (flows/complaint.py, reachable only
     from here), and an alert SMS (`sms.register_alert`) goes to the phone registered on the
     existing account ("someone tried to register with your ID number; call 1800 1096 if it
     was not you"). So an existing account
     is revealed only to the holder of a phone the carrier registered to that ID number — the
     citizen themselves (or someone holding their phone, who could reset the password
     anyway).
A phone already used by another account is told the same way, after possession and
ownership (the carrier registered it to this ID number, so the number was probably recycled).

Refused sends and corrected phones (issue 12 item 3). A citizen who typed someone else's
phone (a KYC mismatch), a landline, or a number over its SMS budget corrects the phone and
submits again; that must not cost a new captcha nor a wait earned by another number:
  - Captcha credit: a solved captcha covers CAPTCHA_SUBMISSIONS form submissions of this flow
    (the first and up to three corrections), counted atomically (CAS on
    `register-captcha:<flow id>`); when it is spent, the form shows a new captcha. A captcha
    therefore still buys a bounded number of tries: at most CAPTCHA_SUBMISSIONS sends, and
    each carrier query also needs the code typed back from a phone the caller holds. The
    credit is bound to the flow, which is bound to the browser, so it cannot be relayed.
  - Carrier queries: the KYC check costs the carrier a query, so a flow makes at most
    KYC_MAX_PER_FLOW of them (answered ones, `register-kyc:<flow id>`); past that the form
    refuses before sending any code. The check still runs only after possession, so the
    enumeration discipline above is unchanged: every refusal before the code depends on what
    was typed, the phone and this flow's own history, never on an account.
  - Cooldown per phone: each phone number the flow sends to has its own OTP challenge (the
    first under the flow id, later ones under `<flow id>.<n>`), so the resend cooldown and
    the ≤ 5 codes apply per number, and a corrected phone that never received a code starts
    with no wait. A flow may send to at most MAX_PHONES_PER_FLOW numbers, which bounds the
    SMS one flow causes (the per-phone, per-address and global hourly budgets apply on top).

Success (issue 12 item 3): after the password the citizen is logged in — the flow returns
`Goto("done", login=...)` and the engine signs in (browser binding renewed, browser known)
and re-binds the pending authorization to the new binding at once (pending.follow_login) —
so the flow's final state "done" can show "Đăng ký thành công" with the masked ID number
and phone; its "Tiếp tục" finishes the flow and the
authorization resumes (or an internal flow returns to its page).

Atomicity (item 7): nothing is written to the database before the password step; then the
Citizen and its default SMS AuthMethod (and the audit row) are inserted in one transaction.
The unique index on citizens.id_number decides between parallel registrations of one ID
number (IntegrityError → the "already has an account" page). The same phone for two accounts
is prevented by a short per-phone lock in the ephemeral store plus a check inside the
transaction — not by a database constraint (citizens.phone is not unique in the schema);
with the registry KYC a phone maps to one ID number, so parallel registrations of one phone
are also registrations of one ID number and the unique index settles them. The SMS and KYC
ports failing leave the flow where it was (nothing created) with a clean message. An
abandoned flow leaves only its ephemeral record, which expires after flow_ttl.

Modules: choice.py (step 1: account types and methods), limits.py (captcha credit, carrier
queries, one challenge per phone), person.py (the form's checks, existing accounts, the
creation), certificate.py (the certificate path: sign, details, organisations), flow.py (the
flow kind: one handler per state, declared transitions), activate.py (the "activate" kind: an
account registered at a counter, activated with the slip's code).
"""
from __future__ import annotations

from idp.flows.register.choice import (
                                       ACCOUNT_TYPES,
                                       METHODS,
                                       AccountType,
                                       VerificationMethod,
                                       choice_errors,
                                       register_method,
                                       usable_methods,
)
from idp.flows.register.flow import RegisterFlow
from idp.flows.register.limits import (
                                       CAPTCHA_SUBMISSIONS,
                                       KYC_MAX_PER_FLOW,
                                       MAX_PHONES_PER_FLOW,
                                       captcha_credit,
                                       challenge_id,
)
from idp.flows.register.person import FORM_FIELDS, validate_form

__all__ = ["ACCOUNT_TYPES", "CAPTCHA_SUBMISSIONS", "FORM_FIELDS", "KYC_MAX_PER_FLOW",
           "MAX_PHONES_PER_FLOW", "METHODS", "AccountType", "RegisterFlow",
           "VerificationMethod", "captcha_credit", "challenge_id", "choice_errors",
           "register_method", "usable_methods", "validate_form"]
