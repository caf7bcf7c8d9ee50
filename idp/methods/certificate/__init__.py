"""Certificate sign-in (issue 15: USB ký số, SIM ký số, VNPT SmartCA): the signer proves
possession of a certificate's key by signing a challenge the IdP made for this flow
(challenge.py); the signature maths and certificate checks are idp.platform.pki's, who the
certificate names is idp.accounts.cert_identity's.
"""
