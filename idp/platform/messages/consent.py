"""Messages of the consent page (flows/consent.py): what the portal will receive, one line per
scope (`consent.scope_<scope>`). Only the scopes listed here are described on the page."""
from flask_babel import lazy_gettext as _l

MESSAGES = {
    "consent.scope_openid": _l("Mã định danh tài khoản của bạn tại hệ thống xác thực"),
    "consent.scope_profile": _l("Họ và tên, giới tính, ngày sinh"),
    "consent.scope_phone": _l("Số điện thoại di động"),
    "consent.scope_email": _l("Địa chỉ thư điện tử"),
    "consent.scope_offline_access": _l("Duy trì truy cập khi bạn không trực tuyến"),
    "consent.scope_dvcqg": _l("Số định danh cá nhân (CCCD/CMND), họ tên, ngày sinh, giới tính, "
                              "số điện thoại, thư điện tử"),
}
