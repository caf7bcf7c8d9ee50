"""Messages of registration by social-insurance code, "Bảo hiểm xã hội" (issue 17 item 1:
flows/register/bhxh.py, accounts/bhxh.py)."""
from flask_babel import lazy_gettext as _l

MESSAGES = {
    "bhxh.code_required": _l("Vui lòng nhập mã số bảo hiểm xã hội."),
    "bhxh.code_format": _l("Mã số bảo hiểm xã hội gồm đúng 10 chữ số."),
    "bhxh.unavailable": _l("Chưa đối chiếu được thông tin với cơ quan bảo hiểm xã hội do hệ "
                           "thống đang bận. Chưa có gì được lưu. Vui lòng thử lại sau ít phút "
                           "hoặc chọn phương thức đăng ký khác."),
    "bhxh.budget": _l("Bạn đã đối chiếu thông tin với cơ quan bảo hiểm xã hội quá số lần cho "
                      "phép trong một lần đăng ký. Vui lòng bắt đầu lại sau."),
}
