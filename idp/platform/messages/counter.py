"""Messages of registration at a counter, "Bưu điện Việt Nam" (issue 17 item 2): the clerk's
screens (staff/counter.py, accounts/counter.py), the citizen's activation
(flows/register/activate.py, accounts/counter_activation.py) and its two SMS, which are plain
strings without diacritics like every SMS (messages/sms.py says why)."""
from flask_babel import lazy_gettext as _l

MESSAGES = {
    # ---- the clerk's form (accounts/counter.py validate, start)
    "counter.id_checked_required": _l("Cán bộ cần kiểm tra CCCD/CMND bản gốc của công dân "
                                      "trước khi đăng ký."),
    "counter.not_official_required": _l(
        "Tài khoản cung cấp từ “Bưu điện Việt Nam” không dành cho CBCCVC cơ quan nhà nước: "
        "công dân cần xác nhận không đăng ký với tư cách cán bộ, công chức, viên chức."),
    "counter.account_exists": _l(
        "Số CMND/CCCD này đã có tài khoản. Không tạo tài khoản mới: nếu công dân mất số điện "
        "thoại nhận OTP, hướng dẫn làm thủ tục “Mất số điện thoại nhận OTP”; nếu tài khoản "
        "không phải của công dân, hướng dẫn gửi khiếu nại."),
    "counter.phone_taken": _l("Số điện thoại này đang nhận mã của một tài khoản khác. Vui "
                              "lòng dùng số điện thoại khác của công dân."),
    "counter.no_counter": _l("Tài khoản cán bộ của bạn chưa được gán quầy giao dịch, nên "
                             "chưa đăng ký tại quầy được. Vui lòng liên hệ quản trị viên."),
    "counter.sms_budget": _l("Số điện thoại này (hoặc quầy của bạn) đã nhận quá nhiều mã "
                             "trong một giờ. Vui lòng thử lại sau."),
    "counter.sms_failed": _l("Chưa gửi được tin nhắn đến số điện thoại do hệ thống gián "
                             "đoạn. Chưa có đăng ký nào được lưu. Vui lòng thử lại."),
    # ---- the phone's code, read out at the counter
    "counter.code_required": _l("Vui lòng nhập mã công dân nhận được qua tin nhắn."),
    "counter.code_wrong": _l("Mã không đúng. Vui lòng kiểm tra lại tin nhắn của công dân."),
    "counter.code_expired": _l("Mã đã hết hạn. Nhấn “Gửi lại mã” để gửi mã mới."),
    "counter.code_burned": _l("Đã nhập sai mã quá số lần cho phép. Nhấn “Gửi lại mã” để gửi "
                              "mã mới."),
    "counter.code_resent": _l("Đã gửi mã mới đến số điện thoại của công dân."),
    "counter.too_many_codes": _l("Đã gửi đủ số mã cho phép cho lần đăng ký này. Vui lòng "
                                 "kiểm tra lại số điện thoại và đăng ký lại."),
    "counter.resend_wait": _l("Có thể gửi lại mã sau %(num)d giây."),
    "counter.not_pending": _l("Đăng ký này không còn chờ xác nhận số điện thoại."),
    "counter.not_found": _l("Không tìm thấy đăng ký này trong các đăng ký của bạn."),
    "counter.slip_once": _l("Mã kích hoạt chỉ hiển thị một lần trên phiếu này. Hãy in "
                            "phiếu và trao cho công dân."),
    # ---- the citizen's activation (flows/register/activate.py)
    "counter.activation_required": _l("Vui lòng nhập mã tham chiếu và mã kích hoạt in trên "
                                      "phiếu."),
    "counter.activation_wrong": _l("Mã tham chiếu hoặc mã kích hoạt không đúng. Vui lòng "
                                   "kiểm tra lại phiếu hoặc tin nhắn."),
    "counter.activation_locked": _l(
        "Đã nhập sai quá số lần cho phép. Vì an toàn, mã này đã bị khóa. Vui lòng mang "
        "CCCD/CMND đến quầy Bưu điện để đăng ký lại."),
    "counter.activation_expired": _l(
        "Mã kích hoạt đã hết hạn. Vui lòng mang CCCD/CMND đến quầy Bưu điện để được cấp mã "
        "mới."),
    "counter.activation_used": _l("Tài khoản này đã được kích hoạt. Vui lòng đăng nhập bằng "
                                  "số CMND/CCCD và mật khẩu đã đặt."),
    "counter.activation_cancelled": _l(
        "Mã kích hoạt này không còn hiệu lực vì đã có một đăng ký mới hơn cho số CMND/CCCD "
        "này. Vui lòng dùng mã trên phiếu mới nhất."),
    "counter.activation_gone": _l("Phiên kích hoạt không còn hiệu lực. Vui lòng nhập lại mã "
                                  "tham chiếu và mã kích hoạt."),
    "counter.activated": _l("Kích hoạt tài khoản thành công."),
    "counter.verified_label": _l("Bưu điện Việt Nam — tại %(counter)s, cán bộ %(clerk)s"),
    # ---- SMS (plain, no diacritics: messages/sms.py)
    "counter.sms_phone_code": ("%(service)s: Ma xac nhan so dien thoai de dang ky tai khoan "
                               "tai quay la %(code)s. Doc ma nay cho nhan vien tai quay. "
                               "Hieu luc %(minutes)d phut."),
    "counter.sms_activation": ("%(service)s: Ma kich hoat tai khoan: %(code)s, ma tham chieu "
                               "%(reference)s. Kich hoat truoc %(until)s tai muc Dang ky > "
                               "Kich hoat tai khoan. Khong dua ma cho ai."),
}
