"""Messages of the one-time codes (SMS, authenticator app, recovery codes) and of the
second-factor step. `otp.*` are shared by every page that asks for a code (login, step-up,
registration, recovery, the account page), so a refusal reads the same everywhere
(idp/methods/refusal.py builds them); `second_factor.*` belong to the second-factor step.

Plurals are functions of `num` (ngettext), so Vietnamese (one form) and English (two) both
read right.
"""
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

MESSAGES = {
    # ---- refusals of a send or a check (accounts.otp.OtpRefused.reason)
    "otp.not_mobile": _l("Số điện thoại không phải số di động Việt Nam nên không thể nhận mã."),
    "otp.cooldown": lambda num: ngettext("Vui lòng chờ %(num)d giây trước khi gửi lại mã.",
                                         "Vui lòng chờ %(num)d giây trước khi gửi lại mã.",
                                         num),
    "otp.flow_budget": _l("Bạn đã yêu cầu gửi lại mã quá nhiều lần. Vui lòng đăng nhập lại từ "
                          "đầu."),
    "otp.budget": _l("Đã gửi quá nhiều mã trong thời gian ngắn. Vui lòng thử lại sau."),
    "otp.sms_failed": _l("Không gửi được mã xác thực lúc này. Vui lòng thử lại sau ít phút."),
    "otp.expired": _l("Mã xác thực đã hết hạn hoặc không còn hiệu lực. Vui lòng bấm “Gửi lại "
                      "OTP” để nhận mã mới."),
    "otp.burned": _l("Bạn đã nhập sai quá số lần cho phép với mã này. Vui lòng bấm “Gửi lại "
                     "OTP” để nhận mã mới."),
    "otp.locked_minutes": lambda num: ngettext(
        "Xác thực tạm thời bị khóa do nhập sai nhiều lần. Vui lòng thử lại sau %(num)d phút.",
        "Xác thực tạm thời bị khóa do nhập sai nhiều lần. Vui lòng thử lại sau %(num)d phút.",
        num),
    "otp.locked_hours": lambda num: ngettext(
        "Xác thực tạm thời bị khóa do nhập sai nhiều lần. Vui lòng thử lại sau %(num)d giờ, "
        "hoặc dùng mã khôi phục nếu bạn có.",
        "Xác thực tạm thời bị khóa do nhập sai nhiều lần. Vui lòng thử lại sau %(num)d giờ, "
        "hoặc dùng mã khôi phục nếu bạn có.", num),
    # ---- the password method (idp/methods/password.py): one message for a wrong ID number
    # or password, so the page tells nothing about which accounts exist
    "method.password_wrong": _l("Số CMND/CCCD hoặc mật khẩu không đúng."),
    # ---- the code field
    "otp.required": _l("Vui lòng nhập mã xác thực."),
    "otp.wrong": _l("Mã xác thực không đúng."),
    # ---- "Chọn phương thức xác thực khác"
    "second_factor.choose_required": _l("Vui lòng chọn một phương thức xác thực."),
    "second_factor.option_sms": _l("Mã OTP qua SMS đến số %(phone)s"),
    "second_factor.option_totp": _l("Ứng dụng xác thực (mã 6 số)"),
    "second_factor.option_recovery": _l("Mã khôi phục dự phòng"),
    # ---- why a second factor is asked now (flows/second_factor.reason)
    "second_factor.reason_sms_reset": _l(
        "Mật khẩu của bạn vừa được đặt lại bằng mã SMS, nên lần đăng nhập này cần ứng dụng xác "
        "thực hoặc mã khôi phục dự phòng."),
    "second_factor.reason_login_sms": _l(
        "Để bảo vệ tài khoản, mỗi lần đăng nhập đều cần thêm mã OTP gửi đến số điện thoại đã "
        "đăng ký."),
    "second_factor.reason_login_other": _l(
        "Để bảo vệ tài khoản, mỗi lần đăng nhập đều cần thêm một bước xác thực thứ hai."),
    "second_factor.reason_federated_sms": _l(
        "Tài khoản VNeID mức độ 1 chưa đủ mức xác thực mà dịch vụ yêu cầu. Vui lòng nhập "
        "thêm mã OTP gửi đến số điện thoại đã đăng ký của tài khoản."),
    "second_factor.reason_federated_other": _l(
        "Tài khoản VNeID mức độ 1 chưa đủ mức xác thực mà dịch vụ yêu cầu. Vui lòng xác thực "
        "thêm một bước nữa."),
    "second_factor.reason_account_sms": _l(
        "Trang quản lý tài khoản yêu cầu xác thực thêm bằng mã OTP gửi đến số điện thoại đã "
        "đăng ký."),
    "second_factor.reason_account_other": _l(
        "Trang quản lý tài khoản yêu cầu xác thực thêm bằng phương thức xác thực thứ hai của "
        "bạn."),
    "second_factor.reason_service_sms": _l(
        "Dịch vụ bạn đang truy cập yêu cầu xác thực thêm bằng mã OTP gửi đến số điện thoại đã "
        "đăng ký."),
    "second_factor.reason_service_other": _l(
        "Dịch vụ bạn đang truy cập yêu cầu xác thực thêm bằng phương thức xác thực thứ hai của "
        "bạn."),
}
