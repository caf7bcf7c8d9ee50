"""Messages of the remote signers (SIM ký số, VNPT SmartCA; idp/platform/signers/): one per
`SignerError` reason (`signer.<reason>`, port.REASONS), how a signing request ended on the
citizen's phone, and the steps around it (the SIM form, the SmartCA authorisation). Plain
words: what happened and what to do; the service's own error codes go to the log only.
"""
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

MESSAGES = {
    # SignerError reasons (idp/platform/signers/port.py REASONS)
    "signer.unknown_user": _l("Số điện thoại hoặc số định danh này chưa đăng ký SIM ký số. Vui "
                              "lòng kiểm tra lại."),
    "signer.not_registered": _l("Bạn chưa có chứng thư số dùng được để ký hoặc đã hết lượt "
                                "ký. Vui lòng liên hệ nhà cung cấp chữ ký số."),
    "signer.revoked": _l("Chứng thư số của bạn đã bị thu hồi. Vui lòng liên hệ nhà cung cấp "
                         "chữ ký số."),
    "signer.invalid_grant": _l("Phiên đăng nhập VNPT SmartCA đã hết hạn hoặc đã được sử dụng. "
                               "Vui lòng đăng nhập VNPT SmartCA lại."),
    "signer.refused_credentials": _l("Dịch vụ ký số tạm thời không dùng được. Vui lòng chọn "
                                     "cách đăng nhập khác hoặc thử lại sau."),
    "signer.unavailable": _l("Không kết nối được với nhà cung cấp chữ ký số. Vui lòng thử lại "
                             "sau ít phút."),
    "signer.bad_response": _l("Dịch vụ ký số đang gặp sự cố. Vui lòng thử lại sau hoặc chọn "
                              "cách đăng nhập khác."),
    # how the request ended on the phone (certificate_step.check)
    "signer.pending": _l("Chưa nhận được xác nhận từ điện thoại của bạn. Vui lòng đồng ý yêu "
                         "cầu ký số trên điện thoại rồi bấm lại nút bên dưới."),
    "signer.rejected": _l("Yêu cầu ký số đã bị từ chối trên điện thoại. Bạn có thể gửi lại "
                          "yêu cầu."),
    "signer.expired": _l("Yêu cầu ký số đã hết hạn mà chưa được xác nhận. Vui lòng gửi lại yêu "
                         "cầu."),
    "signer.failed": _l("Ký số không thành công. Vui lòng gửi lại yêu cầu."),
    "signer.cancelled": _l("Bạn đã hủy yêu cầu ký số."),
    "signer.not_remote": _l("Phương thức này không nhận chữ ký gửi từ trình duyệt. Vui lòng "
                            "gửi yêu cầu ký số tới điện thoại."),
    "signer.too_many": lambda num: ngettext(
        "Đã gửi quá nhiều yêu cầu ký số tới thuê bao này. Vui lòng thử lại sau %(num)d phút.",
        "Đã gửi quá nhiều yêu cầu ký số tới thuê bao này. Vui lòng thử lại sau %(num)d phút.",
        num),
    # the SIM ký số form
    "signer.account_format": _l("Vui lòng nhập số điện thoại di động (ví dụ 0912345678) hoặc "
                                "số định danh cá nhân (12 chữ số) đã đăng ký SIM ký số."),
    # VNPT SmartCA's authorisation (flows/smartca_callback.py)
    "signer.smartca_denied": _l("Bạn chưa cho phép đăng nhập bằng VNPT SmartCA. Vui lòng thử "
                                "lại hoặc chọn cách đăng nhập khác."),
    "signer.smartca_state": _l("Phiên đăng nhập VNPT SmartCA không hợp lệ hoặc đã được sử "
                               "dụng. Vui lòng thực hiện lại."),
}
