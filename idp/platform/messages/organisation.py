"""Messages of organisation accounts (issue 15 item 5: "Doanh nghiệp", "Cơ quan nhà nước"):
registering one by its certificate (flows/register/certificate.py) and signing in with it
(accounts/cert_accounts.py)."""
from flask_babel import lazy_gettext as _l

MESSAGES = {
    "organisation.no_account": _l("Chưa có tài khoản tổ chức nào mang mã số thuế hoặc mã số "
                                  "đơn vị trong chứng thư số này. Vui lòng đăng ký tài khoản "
                                  "doanh nghiệp hoặc cơ quan nhà nước trước."),
    # registration: a certificate of another kind than the account type chosen
    "organisation.organisation_certificate": _l(
        "Chứng thư số này là của tổ chức. Để đăng ký tài khoản công dân, vui lòng ký bằng "
        "chứng thư số cá nhân mang số CCCD của bạn; để đăng ký cho tổ chức, hãy chọn loại tài "
        "khoản “Doanh nghiệp” hoặc “Cơ quan nhà nước”."),
    "organisation.not_business_certificate": _l(
        "Chứng thư số này không phải của doanh nghiệp. Tài khoản doanh nghiệp đăng ký bằng "
        "chứng thư số của doanh nghiệp (mang mã số thuế, không mang số định danh cá nhân)."),
    "organisation.not_agency_certificate": _l(
        "Chứng thư số này không phải của cơ quan nhà nước. Tài khoản cơ quan nhà nước đăng ký "
        "bằng chứng thư số của cơ quan (mang mã số đơn vị có quan hệ với ngân sách)."),
    "organisation.representative_required": _l("Vui lòng nhập họ và tên người đại diện theo "
                                               "pháp luật."),
    "organisation.account_exists": _l("Tổ chức này đã có tài khoản. Vui lòng đăng nhập bằng "
                                      "chữ ký số của tổ chức."),
}
