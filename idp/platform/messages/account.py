"""Messages of the account page ("Thông tin tài khoản", idp/flows/account/): phones,
authenticator app, password change, sessions. Flashed ones carry their id through the
redirect (flows/account/__init__.flash_message)."""
from flask_babel import lazy_gettext as _l

MESSAGES = {
    # ---- phones (flows/account/phones.py)
    "account.phone_exists": _l("Số điện thoại này đã có trong tài khoản."),
    "account.phones_full_remove_first": _l(
        "Tài khoản đã có tối đa %(num)d số điện thoại. Vui lòng xóa bớt một số trước khi thêm "
        "số mới."),
    "account.phones_full": _l("Tài khoản đã có tối đa %(num)d số điện thoại."),
    "account.phone_request_expired": _l("Yêu cầu thêm số điện thoại đã hết hạn. Vui lòng thực "
                                        "hiện lại."),
    "account.phone_changed": _l("Đã đổi số điện thoại nhận mã xác thực."),
    "account.phone_added": _l("Đã thêm số điện thoại mới."),
    "account.phone_default_set": _l("Đã đặt số điện thoại mặc định."),
    "account.phone_default_kept": _l(
        "Không thể xóa số điện thoại mặc định. Hãy đặt một số khác làm mặc định trước, hoặc "
        "dùng “Đổi số”."),
    "account.phone_remove_title": _l("Xóa số điện thoại"),
    "account.phone_remove_text": _l("Số %(phone)s sẽ không còn nhận được mã xác thực của tài "
                                    "khoản."),
    "account.phone_remove_button": _l("Xóa số điện thoại"),
    "account.phone_removed": _l("Đã xóa số điện thoại."),
    # ---- authenticator app (flows/account/authenticator.py)
    "account.totp_exists": _l("Tài khoản đã có ứng dụng xác thực. Hãy gỡ ứng dụng cũ trước khi "
                              "thêm ứng dụng mới."),
    "account.totp_request_expired": _l("Yêu cầu thêm ứng dụng xác thực đã hết hạn. Vui lòng "
                                       "thực hiện lại."),
    "account.totp_wrong": _l("Mã xác thực không đúng. Hãy nhập mã đang hiển thị trong ứng "
                             "dụng."),
    "account.totp_added": _l("Đã thêm ứng dụng xác thực."),
    "account.totp_remove_title": _l("Gỡ ứng dụng xác thực"),
    "account.totp_remove_text": _l("Ứng dụng xác thực sẽ không còn dùng được để đăng nhập vào "
                                   "tài khoản."),
    "account.totp_remove_button": _l("Gỡ ứng dụng xác thực"),
    "account.totp_removed": _l("Đã gỡ ứng dụng xác thực."),
    # ---- bound certificates (flows/account/certificates.py)
    "account.certificate_remove_title": _l("Gỡ chứng thư số"),
    "account.certificate_remove_text": _l(
        "Chứng thư số %(label)s sẽ được gỡ khỏi tài khoản và không dùng để đăng nhập được nữa "
        "(ví dụ khi bạn mất USB ký số). Các chứng thư số khác của bạn vẫn dùng được."),
    "account.certificate_remove_button": _l("Gỡ chứng thư số"),
    "account.certificate_removed": _l("Đã gỡ chứng thư số."),
    # ---- password and sessions (flows/account/overview.py)
    "account.current_password_required": _l("Vui lòng nhập mật khẩu hiện tại."),
    "account.current_password_wrong": _l("Mật khẩu hiện tại không đúng."),
    "account.current_password_locked": _l(
        "Bạn đã nhập sai mật khẩu hiện tại quá nhiều lần. Vui lòng thử lại sau %(num)d phút."),
    "account.password_changed": _l("Đã đổi mật khẩu."),
    "account.sessions_revoked": _l("Đã đăng xuất %(num)d phiên khác."),
    "account.no_other_sessions": _l("Không có phiên đăng nhập nào khác."),
}
