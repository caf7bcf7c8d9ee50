"""Messages of account recovery: forgot password (flows/recover.py, /recover/done) and
"Mất số điện thoại nhận OTP" (flows/recovery_views.py). Waits and budgets that read the
same as a code refusal elsewhere reuse `otp.*`; the ID-number format is `login.*`."""
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

MESSAGES = {
    # ---- forgot password: identify
    "recovery.hard_captcha": _l("Số CMND/CCCD này vừa được yêu cầu đặt lại mật khẩu nhiều "
                                "lần. Để bảo vệ tài khoản, vui lòng nhập mã xác thực mới (8 "
                                "ký tự) trong hình."),
    # ---- forgot password: the code
    "recovery.too_many_sends": _l("Bạn đã yêu cầu gửi lại mã quá nhiều lần. Vui lòng bắt đầu "
                                  "lại từ đầu."),
    "recovery.locked_minutes": lambda num: ngettext(
        "Bạn đã nhập sai mã quá nhiều lần. Vui lòng thử lại sau %(num)d phút.",
        "Bạn đã nhập sai mã quá nhiều lần. Vui lòng thử lại sau %(num)d phút.", num),
    "recovery.code_resent": _l("Nếu số CMND/CCCD đã có tài khoản, một mã mới vừa được gửi. "
                               "Chỉ mã mới nhất còn hiệu lực."),
    # ---- forgot password: the new password, done
    "recovery.cannot_reset": _l("Không thể đặt lại mật khẩu cho tài khoản này. Vui lòng liên "
                                "hệ tổng đài 1800 1096."),
    "recovery.done_title": _l("Đặt lại mật khẩu thành công"),
    "recovery.done": _l("Mật khẩu của bạn đã được đặt lại và mọi phiên đăng nhập cũ đã được "
                        "đăng xuất. Hãy quay lại cổng dịch vụ công và đăng nhập bằng mật khẩu "
                        "mới."),
    "recovery.done_login": _l("Mật khẩu của bạn đã được đặt lại và mọi phiên đăng nhập cũ đã "
                              "được đăng xuất. Hãy đăng nhập bằng mật khẩu mới."),
    # ---- lost phone
    "recovery.lost_phone_format": _l("Vui lòng nhập số điện thoại di động Việt Nam mới, ví dụ "
                                     "0941234947."),
    "recovery.lost_phone_too_many": _l("Đã có quá nhiều yêu cầu cho số định danh này trong hôm "
                                       "nay. Vui lòng thử lại vào ngày mai."),
    "recovery.lost_phone_sent": _l("Nếu số CMND/CCCD bạn nhập đã có tài khoản, yêu cầu đổi số "
                                   "điện thoại nhận mã xác thực đã được ghi nhận."),
}
