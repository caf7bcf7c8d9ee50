"""Messages of the staff console (idp/staff/, issue 17 item 3): sign-in, re-authentication
and the screens' errors and confirmations."""
from flask_babel import lazy_gettext as _l

MESSAGES = {
    "staff.signin_failed": _l("Tên đăng nhập, mật khẩu hoặc mã xác thực không đúng, hoặc tài "
                              "khoản đang bị khóa. Vui lòng thử lại hoặc liên hệ quản trị "
                              "viên."),
    "staff.signin_missing": _l("Vui lòng nhập đủ tên đăng nhập, mật khẩu và mã xác thực."),
    "staff.too_many": _l("Quá nhiều lần đăng nhập từ địa chỉ này. Vui lòng thử lại sau ít "
                         "phút."),
    "staff.expired": _l("Phiên làm việc đã hết hạn. Vui lòng đăng nhập lại."),
    "staff.signed_out": _l("Bạn đã đăng xuất khỏi khu vực cán bộ."),
    "staff.reauth_failed": _l("Mã xác thực không đúng hoặc đã được dùng. Vui lòng nhập mã mới "
                              "trong ứng dụng xác thực."),
    "staff.note_missing": _l("Vui lòng ghi rõ giấy tờ đã kiểm tra và nội dung quyết định."),
    "staff.note_too_long": _l("Ghi chú tối đa 2000 ký tự."),
    "staff.document_missing": _l("Vui lòng chọn giấy tờ đã kiểm tra trực tiếp."),
    "staff.id_number_mismatch": _l("Số CMND/CCCD trên giấy tờ không khớp với tài khoản. "
                                   "Không chấp thuận yêu cầu."),
    "staff.decision_missing": _l("Vui lòng chọn một quyết định."),
    "staff.not_found": _l("Không tìm thấy yêu cầu này."),
    "staff.recovery_approved": _l("Đã chấp thuận yêu cầu. Số điện thoại mới đã thay cho các số "
                                  "cũ; công dân được thông báo qua SMS."),
    "staff.recovery_rejected": _l("Đã từ chối yêu cầu. Công dân được thông báo qua SMS."),
    "staff.recovery_failed": _l("Không thể xử lý yêu cầu này: yêu cầu đã được quyết định, đã "
                                "quá 30 ngày hoặc tài khoản không còn tồn tại."),
    "staff.complaint_resolved": _l("Đã giải quyết khiếu nại."),
    "staff.complaint_failed": _l("Không thể giải quyết khiếu nại này (đã được giải quyết, hoặc "
                                 "kết quả không áp dụng được cho tài khoản)."),
    "staff.id_number_invalid": _l("Số CMND/CCCD gồm 9 hoặc 12 chữ số."),
    "staff.citizen_not_found": _l("Không có tài khoản nào với số CMND/CCCD này."),
    "staff.reason_missing": _l("Vui lòng ghi lý do xem đầy đủ thông tin (ví dụ: số phiếu hỗ "
                               "trợ)."),
    "staff.reason_too_long": _l("Lý do tối đa 500 ký tự."),
    "staff.role_invalid": _l("Vai trò không hợp lệ."),
    "staff.self_change": _l("Bạn không thể tự khóa tài khoản hoặc đổi vai trò của chính "
                            "mình."),
    "staff.member_updated": _l("Đã cập nhật tài khoản cán bộ."),
}
