"""Messages of account linking after a VNeID login (issue 16; accounts/federation.py,
flows/federated/): an account that cannot be signed in to, the new account's phone, the
old CMND account. The upstream round trip's own messages are in upstream.py."""
from flask_babel import lazy_gettext as _l

MESSAGES = {
    # accounts/federation.LinkRefused reasons
    "federation.disabled": _l("Tài khoản gắn với số định danh này đang bị khóa hoặc không "
                              "dùng được. Vui lòng liên hệ tổng đài 1800 1096 để được hỗ "
                              "trợ."),
    "federation.mismatch": _l("Thông tin VNeID không khớp với tài khoản đã liên kết. Vui "
                              "lòng liên hệ tổng đài 1800 1096 để được hỗ trợ."),
    "federation.taken": _l("Số định danh cá nhân này đã có một tài khoản khác, nên không thể "
                           "chuyển tài khoản CMND sang số này. Vui lòng đăng nhập bằng VNeID "
                           "hoặc liên hệ tổng đài 1800 1096."),
    # creating an account from VNeID
    "federation.phone_taken": _l("Số điện thoại này đã được dùng cho một tài khoản khác. "
                                 "Vui lòng nhập số điện thoại khác của bạn."),
    "federation.exists": _l("Số định danh cá nhân này vừa có tài khoản. Vui lòng đăng nhập "
                            "lại bằng VNeID."),
    # the old CMND account
    "federation.cmnd_format": _l("Số CMND gồm đúng 9 chữ số."),
    "federation.cmnd_mismatch": _l("Ngày sinh của tài khoản CMND này không khớp với thông "
                                   "tin VNeID, nên không thể liên kết. Vui lòng liên hệ "
                                   "tổng đài 1800 1096 nếu đây là tài khoản của bạn."),
    # the account page's list of linked identities
    "federation.linked_label": _l("%(provider)s — số định danh %(pid)s"),
    "federation.unlink_title": _l("Gỡ liên kết tài khoản định danh điện tử"),
    "federation.unlink_text": _l("Gỡ liên kết %(label)s? Sau khi gỡ, bạn vẫn đăng nhập được "
                                 "bằng số định danh và mật khẩu; lần đăng nhập bằng VNeID "
                                 "sau sẽ liên kết lại tài khoản."),
    "federation.unlink_button": _l("Gỡ liên kết"),
    "federation.unlinked": _l("Đã gỡ liên kết tài khoản định danh điện tử."),
}
