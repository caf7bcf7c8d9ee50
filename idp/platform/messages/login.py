"""Messages of the login page (flows/login.py): the captcha, the ID number and password
fields, the throttle's waits. A wrong ID number or password is `method.password_wrong`
(second_factor.py catalogue: one message, so the page tells nothing about which accounts
exist). Plurals are functions of `num` (ngettext)."""
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

MESSAGES = {
    "captcha.invalid": _l("Mã xác thực không đúng hoặc đã hết hạn. Vui lòng nhập mã mới."),
    "captcha.hard": _l("Số CMND/CCCD này vừa bị nhập sai mật khẩu nhiều lần. Để bảo vệ tài "
                       "khoản, vui lòng nhập mã xác thực mới (8 ký tự) trong hình."),
    "login.id_number_format": _l("Vui lòng nhập số CMND (9 chữ số) hoặc CCCD (12 chữ số)."),
    "login.password_required": _l("Vui lòng nhập mật khẩu."),
    "login.password_too_long": _l("Mật khẩu quá dài."),
    "login.account_locked": _l("Tài khoản đang bị khóa. Vui lòng liên hệ tổng đài 1800 1096 để "
                               "được hỗ trợ."),
    "login.wait_minutes": lambda num: ngettext(
        "Bạn đã nhập sai quá nhiều lần. Vui lòng thử lại sau %(num)d phút.",
        "Bạn đã nhập sai quá nhiều lần. Vui lòng thử lại sau %(num)d phút.", num),
    "login.wait_hours": lambda num: ngettext(
        "Bạn đã nhập sai quá nhiều lần. Vui lòng thử lại sau %(num)d giờ, hoặc đặt lại mật "
        "khẩu bằng “Quên mật khẩu?”.",
        "Bạn đã nhập sai quá nhiều lần. Vui lòng thử lại sau %(num)d giờ, hoặc đặt lại mật "
        "khẩu bằng “Quên mật khẩu?”.", num),
}
