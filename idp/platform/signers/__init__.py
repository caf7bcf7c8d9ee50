"""Remote signers: the services that hold a citizen's signing key away from the browser and
ask the citizen to approve each signature on their phone (reference/pki.md §3, §4).

- `port`: the interface certificate sign-in talks to (`RemoteSigner`), its value types
  (`SignerCertificate`, `SignStatus`) and its one error (`SignerError`, with a reason code);
- `mobile_sim`: SIM ký số over the common NEAC / QĐ769 service-provider API;
- `smartca`: VNPT SmartCA, whose calls need the citizen's own OAuth token first.

The adapters only carry bytes: whether a returned certificate is trusted, and whether the
signature is good, is decided by idp.platform.pki. Their stand-ins for tests and the demo are
the separate `standins` package.
"""
