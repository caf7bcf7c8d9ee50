"""SMS texts, one catalogue for every text message the IdP sends (issue 13 item 5). SMS go
out without diacritics (GSM 7-bit, one segment) and in Vietnamese whatever the language of the
browser that caused them (the recipient is often someone else), so entries are plain strings,
not translated; `%(service)s` is sms.SERVICE_NAME. Each area adds its own entries."""

MESSAGES = {
    # registration found an existing account for the ID number (flows/register/flow.py)
    "sms.register_alert": ("%(service)s: Co nguoi vua dang ky tai khoan moi bang so CCCD/CMND "
                           "cua ban. Tai khoan cua ban khong thay doi. Neu khong phai ban, goi "
                           "1800 1096."),
    # password reset and lost phone (accounts/recovery.py); %(service)s: sms.SERVICE_NAME
    "sms.password_reset": ("%(service)s: Mat khau tai khoan cua ban vua duoc dat lai. "
                           "Neu khong phai ban, goi 18001096."),
    "sms.recovery_requested": ("%(service)s: Co yeu cau doi so dien thoai nhan ma xac thuc cho "
                               "tai khoan cua ban. Neu khong phai ban, goi 18001096."),
    "sms.recovery_approved_old": ("%(service)s: So dien thoai nhan ma xac thuc cua tai khoan da "
                                  "duoc thay bang so moi. Neu khong phai ban, goi 18001096."),
    "sms.recovery_approved_new": ("%(service)s: So nay da duoc dang ky nhan ma xac thuc cho tai "
                                  "khoan dich vu cong cua ban. Cac phien dang nhap cu da bi dang "
                                  "xuat."),
    "sms.recovery_rejected": ("%(service)s: Yeu cau doi so dien thoai nhan ma xac thuc khong "
                              "duoc chap nhan. Chi tiet: goi 18001096."),
    # complaints (accounts/complaints.py); %(ref)s is complaint reference, "KN-" + 8 characters
    "sms.complaint_filed": ("%(service)s: Co nguoi khieu nai rang tai khoan dich vu cong mang so "
                            "CCCD/CMND cua ban khong phai cua ban (%(ref)s). Tai khoan van hoat "
                            "dong. Hoi dap: goi 1800 1096."),
    "sms.complaint_received": ("%(service)s: Da tiep nhan khieu nai %(ref)s. Can bo se lien he "
                               "voi ban qua so nay. Chi tiet: goi 1800 1096."),
    "sms.complaint_owner_confirmed.complainant": (
        "%(service)s: Khieu nai %(ref)s da xu ly: tai khoan duoc xac nhan thuoc chu tai khoan "
        "hien tai. Chi tiet: goi 1800 1096."),
    "sms.complaint_rejected.complainant": (
        "%(service)s: Khieu nai %(ref)s khong duoc chap nhan. Chi tiet: goi 1800 1096."),
    "sms.complaint_account_disabled.complainant": (
        "%(service)s: Khieu nai %(ref)s da xu ly: tai khoan bi khieu nai da bi vo hieu hoa. "
        "Chi tiet: goi 1800 1096."),
    "sms.complaint_transferred.complainant": (
        "%(service)s: Khieu nai %(ref)s da xu ly: tai khoan da chuyen cho ban. Hay chon Quen mat "
        "khau tai trang dang nhap de dat mat khau moi."),
    "sms.complaint_owner_confirmed.owner": (
        "%(service)s: Khieu nai ve tai khoan cua ban da duoc xu ly; tai khoan khong thay doi. "
        "Chi tiet: goi 1800 1096."),
    "sms.complaint_rejected.owner": (
        "%(service)s: Khieu nai ve tai khoan cua ban da duoc xu ly; tai khoan khong thay doi. "
        "Chi tiet: goi 1800 1096."),
    "sms.complaint_account_disabled.owner": (
        "%(service)s: Tai khoan dich vu cong cua ban da bi vo hieu hoa sau khi xac minh khieu "
        "nai. Chi tiet: goi 1800 1096."),
    "sms.complaint_transferred.owner": (
        "%(service)s: Sau xac minh truc tiep, tai khoan da chuyen cho chu so CCCD/CMND; so nay da "
        "bi go khoi tai khoan. Chi tiet: goi 1800 1096."),
}
