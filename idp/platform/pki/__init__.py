"""Certificates of Vietnamese public CAs (USB tokens, SIM signatures, VNPT SmartCA): which roots
we trust (`trust`: configured files, each pinned by its SHA-256 fingerprint), whether a
certificate chains to one of them, is in date, fit for signing and not revoked (`validation`,
`revocation`: CRL and OCSP, fail closed), and a test hierarchy that stands in for the national
and government roots (`testca`: tests and the development demo only).

Nothing here is imported by the serving app until a certificate is presented: the path
validator (pyhanko-certvalidator, asn1crypto) loads inside the functions that need it.
"""
