"""Messages of certificate sign-in (USB ký số, SIM ký số, VNPT SmartCA): refusals of the
signature (idp/platform/pki/signature.py), of the signing session
(idp/methods/certificate/challenge.py) and of who the certificate names
(idp/accounts/cert_identity.py). Each exception carries its `message_id`; the words avoid
jargon a citizen cannot act on (no "CMS", "OID", "SignerInfo").
"""
from flask_babel import lazy_gettext as _l

MESSAGES = {
    "certificate.signature_invalid": _l("Chữ ký số không hợp lệ."),
    "certificate.expired_or_used": _l("Phiên ký đã hết hạn hoặc đã được sử dụng. Vui lòng "
                                      "thực hiện lại."),
    "certificate.wrong_flow": _l("Phiên ký không thuộc thao tác bạn đang thực hiện. Vui lòng "
                                 "thực hiện lại."),
    "certificate.no_identifier": _l("Chứng thư số không chứa số định danh cá nhân hoặc mã số "
                                    "thuế."),
    "certificate.invalid_id_number": _l("Số định danh cá nhân trong chứng thư số không hợp "
                                        "lệ."),
    "certificate.invalid_mst": _l("Mã số thuế trong chứng thư số không hợp lệ."),
    "certificate.conflicting_identifiers": _l("Chứng thư số chứa các số định danh khác nhau "
                                              "nên không xác định được chủ sở hữu. Vui lòng "
                                              "liên hệ tổ chức cấp chứng thư số."),
    # who the certificate names, against our accounts (idp/methods/certificate/method.py)
    "certificate.no_account": _l("Chưa có tài khoản nào mang số định danh trong chứng thư số "
                                 "này. Vui lòng đăng ký tài khoản trước."),
    "certificate.removed": _l("Chứng thư số này đã được gỡ khỏi tài khoản nên không dùng để "
                              "đăng nhập được nữa. Vui lòng dùng chứng thư số khác."),
    "certificate.other_account": _l("Chứng thư số này không phải của tài khoản đang đăng "
                                    "nhập."),
    # the login page's certificate tabs (idp/flows/certificate_step.py, flows/login.py)
    "certificate.required": _l("Dịch vụ này yêu cầu đăng nhập bằng chữ ký số (USB ký số, SIM "
                               "ký số hoặc VNPT SmartCA)."),
    "certificate.unavailable": _l("Phương thức ký số này hiện không dùng được. Vui lòng chọn "
                                  "phương thức khác."),
    # USB ký số: what static/usb-signer.js shows (data-msg-* of the form, templates)
    "certificate.usb_working": _l("Đang kết nối với công cụ ký số, vui lòng nhập mã PIN của "
                                  "USB ký số khi được hỏi…"),
    "certificate.usb_unavailable": _l("Không kết nối được với công cụ ký số trên máy tính. "
                                      "Vui lòng cài đặt và mở VNPT-CA Plugin, cắm USB ký số "
                                      "rồi thử lại."),
    "certificate.usb_nocert": _l("Không đọc được chứng thư số trên USB ký số. Vui lòng kiểm "
                                 "tra USB ký số đã được cắm vào máy."),
    "certificate.usb_cancelled": _l("Bạn đã hủy thao tác ký số."),
    "certificate.usb_nokey": _l("Chứng thư số đã chọn không có khóa bí mật trên USB ký số. "
                                "Vui lòng chọn chứng thư số khác."),
    "certificate.usb_failed": _l("Ký số không thành công. Vui lòng thử lại."),
    "certificate.usb_noscript": _l("Đăng nhập bằng USB ký số cần bật JavaScript và cài đặt "
                                   "VNPT-CA Plugin trên máy tính."),
}
