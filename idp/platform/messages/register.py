"""Messages of registration (flows/register/): the choice of account type and method, the
form's own checks (the field rules themselves are `validation.*`), the limits of one
registration, the outcomes after the SMS code, the account creation. Source strings are the
Vietnamese shown before issue 13, so the English catalogue still translates them."""
from flask_babel import lazy_gettext as _l

MESSAGES = {
    # ---- step 1: account type and method (register/choice.py)
    "register.account_type_required": _l("Vui lòng chọn loại tài khoản."),
    "register.account_type_unsupported": _l(
        "Hệ thống chưa hỗ trợ đăng ký tài khoản %(type)s. Trong thời gian này, vui lòng "
        "liên hệ Bộ phận Một cửa của UBND cấp xã nơi làm thủ tục để được hướng dẫn."),
    "register.method_required": _l("Vui lòng chọn phương thức đăng ký."),
    "register.method_unsupported_use": _l("Phương thức “%(method)s” chưa được hỗ trợ. Vui "
                                          "lòng chọn %(usable)s."),
    "register.method_unsupported": _l("Phương thức “%(method)s” chưa được hỗ trợ."),
    "register.method_wrong_type": _l("Phương thức “%(method)s” không dùng để đăng ký tài "
                                     "khoản %(type)s."),
    # ---- step 2: the form (register/person.py, register/flow.py)
    "register.birth_date_required": _l("Vui lòng nhập ngày sinh."),
    "register.gender_required": _l("Vui lòng chọn giới tính."),
    "register.consent_required": _l("Bạn cần đồng ý cho phép xử lý dữ liệu cá nhân để đăng "
                                    "ký tài khoản."),
    "register.kyc_budget": _l("Bạn đã đối chiếu thông tin với nhà mạng quá số lần cho phép "
                              "trong một lần đăng ký. Vui lòng quay lại cổng dịch vụ công và "
                              "bắt đầu đăng ký lại, hoặc gọi tổng đài 1800 1096 để được hỗ "
                              "trợ."),
    "register.too_many_phones": _l("Bạn đã dùng quá nhiều số điện thoại khác nhau trong một "
                                   "lần đăng ký. Vui lòng dùng lại một số đã nhập, hoặc bắt "
                                   "đầu đăng ký lại."),
    # registration's words for otp "flow_budget" (methods.refusal.refused overrides)
    "register.flow_budget": _l("Số điện thoại này đã nhận đủ số mã cho phép trong một lần "
                               "đăng ký. Vui lòng kiểm tra lại số điện thoại, hoặc bắt đầu "
                               "đăng ký lại sau ít phút."),
    # ---- after the code: carrier check, existing accounts (register_result.html)
    "register.kyc_unavailable": _l("Chưa kiểm tra được thông tin thuê bao với nhà mạng do hệ "
                                   "thống đang gián đoạn. Chưa có tài khoản nào được tạo. Vui "
                                   "lòng thử lại sau ít phút."),
    "register.kyc_mismatch": _l("Số thuê bao này không được đăng ký chính chủ với số "
                                "CMND/CCCD và thông tin (họ tên, ngày sinh) bạn đã nhập. Vui "
                                "lòng kiểm tra lại thông tin, hoặc đăng ký bằng số thuê bao "
                                "đứng tên bạn."),
    "register.phone_taken": _l("Số điện thoại này đã được dùng cho một tài khoản khác. Vui "
                               "lòng liên hệ tổng đài 1800 1096 để được hỗ trợ."),
    "register.account_exists": _l("Số CMND/CCCD này đã có tài khoản. Nếu đó là tài khoản của "
                                  "bạn, hãy lấy lại mật khẩu bằng chức năng “Quên mật khẩu”. "
                                  "Nếu bạn không sở hữu tài khoản đó, hãy gửi khiếu nại."),
    "register.session_invalid": _l("Phiên đăng ký không hợp lệ. Vui lòng bắt đầu lại."),
    # the certificate path (register/certificate.py): told right after the signature
    "register.account_exists_certificate": _l(
        "Số CMND/CCCD trong chứng thư số này đã có tài khoản. Bạn có thể đăng nhập ngay bằng "
        "chữ ký số này, hoặc lấy lại mật khẩu bằng chức năng “Quên mật khẩu”."),
    # ---- the password step and the creation
    "register.creating": _l("Yêu cầu đăng ký đang được xử lý. Vui lòng tải lại trang sau "
                            "giây lát."),
    "register.phone_busy": _l("Số điện thoại này đang được dùng cho một đăng ký khác. Vui "
                              "lòng thử lại sau ít phút."),
    "register.create_failed": _l("Không tạo được tài khoản lúc này do lỗi hệ thống. Chưa có "
                                 "gì được lưu; vui lòng thử lại sau ít phút."),
    "register.done": _l("Tài khoản của bạn đã được tạo và bạn đã đăng nhập."),
    "register.code_resent": _l("Một mã mới vừa được gửi. Chỉ mã mới nhất còn hiệu lực."),
}
