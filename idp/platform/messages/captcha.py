"""Messages of the image captcha beyond a wrong answer (`captcha.invalid`, `captcha.hard`:
login.py catalogue): registration's captcha credit (flows/register/limits.py)."""
from flask_babel import lazy_gettext as _l

MESSAGES = {
    "captcha.credit": _l("Mã xác thực bạn đã nhập đúng vẫn còn hiệu lực: sửa thông tin và "
                         "nhấn “Đăng ký”, không cần nhập mã mới."),
}
