"""Messages of the sign-in through an upstream identity provider ("Đăng nhập bằng VNeID",
idp/platform/upstream/): one per `UpstreamError` reason (`upstream.<reason>`,
idp/platform/upstream/errors.py REASONS), and the button label. Plain words for a citizen:
what happened and what to do; the protocol's details go to the log only.
"""
from flask_babel import lazy_gettext as _l

MESSAGES = {
    "upstream.sign_in_with": _l("Đăng nhập bằng %(provider)s"),
    # UpstreamError reasons (idp/platform/upstream/errors.py REASONS)
    "upstream.denied": _l("Bạn đã hủy đăng nhập bằng VNeID. Bạn có thể đăng nhập bằng tài "
                          "khoản của Cổng hoặc thử lại."),
    "upstream.upstream_error": _l("VNeID đang gặp sự cố nên chưa đăng nhập được. Vui lòng thử "
                                  "lại sau hoặc đăng nhập bằng tài khoản của Cổng."),
    "upstream.unreachable": _l("Không kết nối được với VNeID. Vui lòng thử lại sau ít phút "
                               "hoặc đăng nhập bằng tài khoản của Cổng."),
    "upstream.timeout": _l("VNeID không phản hồi kịp. Vui lòng thử lại sau ít phút hoặc đăng "
                           "nhập bằng tài khoản của Cổng."),
    "upstream.bad_state": _l("Liên kết đăng nhập đã hết hạn hoặc đã được sử dụng. Vui lòng bắt "
                             "đầu lại từ trang của dịch vụ."),
    "upstream.wrong_issuer": _l("Không xác nhận được kết quả đăng nhập từ VNeID. Vui lòng bắt "
                                "đầu lại từ trang của dịch vụ."),
    "upstream.bad_envelope": _l("Không đọc được kết quả đăng nhập từ VNeID. Vui lòng thử lại "
                                "hoặc đăng nhập bằng tài khoản của Cổng."),
    "upstream.bad_response": _l("VNeID trả về kết quả không hợp lệ. Vui lòng thử lại sau hoặc "
                                "đăng nhập bằng tài khoản của Cổng."),
    "upstream.bad_grant": _l("Phiên đăng nhập VNeID đã hết hạn. Vui lòng đăng nhập bằng VNeID "
                             "lại."),
    "upstream.bad_token": _l("Không xác nhận được kết quả đăng nhập từ VNeID. Vui lòng thử lại "
                             "hoặc đăng nhập bằng tài khoản của Cổng."),
    "upstream.bad_identity": _l("VNeID không cung cấp đủ thông tin định danh (số định danh cá "
                                "nhân, họ và tên) để đăng nhập. Vui lòng đăng nhập bằng tài "
                                "khoản của Cổng."),
    "upstream.bad_logout_token": _l("Yêu cầu đăng xuất không hợp lệ."),
    "upstream.not_configured": _l("Cổng chưa hỗ trợ đăng nhập bằng cách này. Vui lòng đăng "
                                  "nhập bằng tài khoản của Cổng."),
}
