"""Stand-ins: small programs that behave like the outside parties the IdP deals with, so the
tests and the demo exercise the real adapters over real sockets, failures included.

    standins.smartca      VNPT SmartCA (OAuth login page, credentials, signhash, notifyUrl)
    standins.mobile_sim   SIM ký số over the QĐ769 service-provider API
    standins.core         what those two share: subscribers.json, real signing, transactions
    standins.web          what those two serve alike: request log, latency, faults,
                          /_control/, the "phone" page /_phone/<who>
    standins.usb_plugin   the VNPT-CA signing plugin on the citizen's PC (websocket)
    standins.usb_token    the test tokens that plugin stand-in holds
    standins.vneid        VNeID ("Đăng nhập bằng VNeID"): the partner API with encrypted
                          answers, or a standard OpenID provider (vneid_*.py: its parts)

A stand-in is not part of the IdP: it never imports `idp` or `portals` (.importlinter), and it
holds only test keys, written by whoever sets up a test or the demo. Each runs on its own:
`python -m standins.smartca --port 8701 --data DIR` (likewise standins.mobile_sim,
standins.usb_plugin, standins.vneid).
"""
