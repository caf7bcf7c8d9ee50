"""Messages shared by every page: expired or replayed steps, the generic failure."""
from flask_babel import lazy_gettext as _l

MESSAGES = {
    "flow.gone": _l("Phiên đăng nhập đã hết hạn hoặc không còn hợp lệ. Vui lòng quay lại cổng "
                    "dịch vụ công và chọn “Đăng nhập” để bắt đầu lại."),
    "flow.gone_title": _l("Phiên đăng nhập đã hết hạn"),
    "flow.conflict": _l("Bước này vừa được gửi từ một cửa sổ khác. Vui lòng tải lại trang."),
    "flow.conflict_title": _l("Yêu cầu đã được xử lý"),
    # a flow refused to go on (engine.Refuse) without a title of its own
    "flow.refused_title": _l("Yêu cầu đăng nhập không hợp lệ"),
}
