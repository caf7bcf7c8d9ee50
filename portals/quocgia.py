"""Cổng Dịch vụ công Quốc gia (national portal): port 5002, client dvc-quocgia (RS256 ID
tokens), scope incl. `dvcqg`, LoA2 for "Nộp hồ sơ". WSGI: `portals.quocgia:app`."""
from __future__ import annotations

from portals._env import entry_points

THEME = {
    "short_name": "DVC Quốc gia",
    "header_title": "CỔNG DỊCH VỤ CÔNG QUỐC GIA",
    "header_subtitle": "Kết nối, cung cấp thông tin và dịch vụ công mọi lúc, mọi nơi",
    "login_via": "Đăng nhập Cổng DVC Quốc gia",
    "variant": "national",
    "nav": [
        ("GIỚI THIỆU", "gioi-thieu"), ("THÔNG TIN VÀ DỊCH VỤ", "thong-tin-va-dich-vu"),
        ("NỘP HỒ SƠ", "nop-ho-so"), ("THANH TOÁN TRỰC TUYẾN", "thanh-toan-truc-tuyen"),
        ("PHẢN ÁNH KIẾN NGHỊ", "phan-anh-kien-nghi"), ("HỖ TRỢ", "ho-tro"),
    ],
    "stats": None,
    "resolved_cases": [],
    "intro": [
        ("TÀI KHOẢN MỘT LẦN ĐĂNG NHẬP",
         "Một tài khoản dùng chung cho Cổng Dịch vụ công Quốc gia và các cổng dịch vụ công "
         "của bộ, ngành, địa phương: đăng nhập một lần, thực hiện thủ tục ở mọi nơi."),
        ("DỊCH VỤ CÔNG TRỰC TUYẾN",
         "Tra cứu thủ tục hành chính, nộp hồ sơ, theo dõi tình trạng xử lý và thanh toán phí, "
         "lệ phí trực tuyến."),
    ],
    "procedures": [
        ("cap-doi-gplx", "Cấp đổi giấy phép lái xe"),
        ("dang-ky-thuong-tru", "Đăng ký thường trú"),
        ("cap-ho-chieu", "Cấp hộ chiếu phổ thông"),
    ],
    "show_dvcqg": True,
}

DEFAULTS = {
    "name": "quocgia",
    "client_id": "dvc-quocgia",
    "client_secret": "quocgia-portal-demo-secret-8d1e47b2c9f05a63",
    "base_url": "http://127.0.0.1:5002",
    "scope": "openid profile phone email dvcqg",
    "login_acr": "LoA1",
    "submit_acr": "LoA2",
    "theme": THEME,
}


create_app, __getattr__ = entry_points("QUOCGIA", DEFAULTS)
