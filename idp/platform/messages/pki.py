"""Why a digital certificate (chứng thư số: USB token, SIM ký số, VNPT SmartCA) cannot be used
to sign in: one message per CertificateRefused reason (idp/platform/pki/validation.py), id
`pki.<reason>`. Plain words for citizens: what happened and what to do, no CA jargon (CRL,
OCSP, key usage); the technical detail goes to the log only."""
from flask_babel import lazy_gettext as _l

MESSAGES = {
    "pki.untrusted": _l("Chứng thư số này không do nhà cung cấp chữ ký số được công nhận cấp, "
                        "nên không dùng được để đăng nhập."),
    "pki.expired": _l("Chứng thư số đã hết hạn. Vui lòng gia hạn với nhà cung cấp chữ ký số "
                      "rồi thử lại."),
    "pki.not_yet_valid": _l("Chứng thư số chưa đến ngày có hiệu lực. Vui lòng thử lại sau."),
    "pki.revoked": _l("Chứng thư số đã bị thu hồi. Vui lòng liên hệ nhà cung cấp chữ ký số."),
    "pki.key_usage": _l("Chứng thư số này không dùng để ký số, nên không dùng được để đăng "
                        "nhập. Vui lòng chọn chứng thư số khác."),
    "pki.weak_algorithm": _l("Chứng thư số này dùng thuật toán cũ, không còn đủ an toàn. Vui "
                             "lòng liên hệ nhà cung cấp chữ ký số để được cấp chứng thư mới."),
    "pki.revocation_unavailable": _l("Không kiểm tra được tình trạng chứng thư số lúc này. "
                                     "Vui lòng thử lại sau."),
    "pki.malformed": _l("Không đọc được chứng thư số. Vui lòng thử lại hoặc chọn chứng thư số "
                        "khác."),
    "pki.not_end_entity": _l("Đây không phải chứng thư số của cá nhân hay tổ chức, nên không "
                             "dùng được để đăng nhập. Vui lòng chọn chứng thư số khác."),
}
