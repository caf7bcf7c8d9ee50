"""Messages of the complaint form ("Khiếu nại: tài khoản này không phải của tôi",
flows/complaint.py). The e-mail field's rule is `validation.*`."""
from flask_babel import lazy_gettext as _l

MESSAGES = {
    "complaint.session_invalid": _l("Phiên khiếu nại không hợp lệ. Vui lòng bắt đầu lại từ "
                                    "bước đăng ký."),
    "complaint.filing": _l("Khiếu nại đang được ghi nhận. Vui lòng tải lại trang sau giây "
                           "lát."),
    "complaint.description_missing": _l("Vui lòng mô tả ngắn gọn vì sao tài khoản này không "
                                        "phải của bạn."),
    "complaint.description_too_long": _l("Nội dung khiếu nại tối đa %(num)d ký tự."),
    "complaint.no_account": _l("Số CMND/CCCD này hiện không còn tài khoản nào. Bạn có thể "
                               "đăng ký lại."),
    "complaint.failed": _l("Chưa ghi nhận được khiếu nại do lỗi hệ thống. Chưa có gì được "
                           "lưu; vui lòng thử lại sau ít phút."),
    "complaint.filed": _l("Khiếu nại của bạn đã được ghi nhận. Mã khiếu nại:"),
}
