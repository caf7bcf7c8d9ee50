"""Cổng dịch vụ công tỉnh Đắk Lắk (provincial portal): port 5001, client dvc-daklak,
LoA2 for "Nộp hồ sơ". WSGI: `portals.daklak:app`."""
from __future__ import annotations

from portals._env import entry_points

THEME = {
    "short_name": "DVC Đắk Lắk",
    "header_title": "HỆ THỐNG THÔNG TIN GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH",
    "header_subtitle": "TỈNH ĐẮK LẮK",
    "login_via": "Đăng nhập Cổng DVC Quốc gia",
    "variant": "province",
    "nav": [
        ("BỘ THỦ TỤC", "bo-thu-tuc"), ("TRA CỨU HỒ SƠ", "tra-cuu-ho-so"),
        ("NỘP HỒ SƠ", "nop-ho-so"), ("ĐÁNH GIÁ CÁN BỘ", "danh-gia-can-bo"),
        ("KHẢO SÁT", "khao-sat"), ("PHẢN ÁNH KIẾN NGHỊ", "phan-anh-kien-nghi"),
        ("VĂN BẢN XIN LỖI", "van-ban-xin-loi"), ("THÔNG TIN KHÁC", "thong-tin-khac"),
    ],
    "stats": {"heading": "TÌNH HÌNH XỬ LÝ HỒ SƠ NĂM 2023", "on_time": 98.1,
              "on_time_text": "98,1 %", "received": "487.852", "resolved": "488.005",
              "updated": "13/07/2023 05:13:10"},
    "resolved_cases": [
        ("PHẠM QUỐC HÙNG", "000.00.60.H15-230619-0035"),
        ("NGUYỄN VĂN TÂM", "000.16.66.H15-230711-0016"),
        ("ĐINH LONG CỬU", "002.06.14.H15-230606-0056"),
        ("NGUYỄN SỸ TƯ", "000.19.68.H15-230713-0001"),
        ("LÊ BÁN KHÁNH", "000.00.06.H15-230712-0004"),
        ("NGUYỄN THỊ NHUNG", "000.00.60.H15-230629-0056"),
        ("ĐỖ THỊ NGÀ", "000.00.60.H15-230629-0027"),
        ("HUỲNH TẤN THANH", "000.00.60.H15-230623-0017"),
    ],
    "intro": [
        ("CỔNG DỊCH VỤ CÔNG TRỰC TUYẾN",
         "Là nơi thực hiện chức năng \u201cMột cửa điện tử\u201d cho phép tiếp nhận, xử lý, chuyển "
         "trả kết quả cũng như tra cứu về tình trạng xử lý hồ sơ thủ tục hành chính các cơ quan "
         "nhà nước tỉnh Đắk Lắk."),
        ("DỊCH VỤ CÔNG TRỰC TUYẾN",
         "Là dịch vụ hành chính công và các dịch vụ khác của cơ quan nhà nước được cung cấp cho "
         "các tổ chức, cá nhân trên môi trường mạng."),
    ],
    "procedures": [
        ("trich-luc-khai-sinh", "Cấp bản sao trích lục khai sinh"),
        ("xac-nhan-cu-tru", "Xác nhận thông tin về cư trú"),
        ("dang-ky-ket-hon", "Đăng ký kết hôn"),
    ],
    "show_dvcqg": False,
}

DEFAULTS = {
    "name": "daklak",
    "client_id": "dvc-daklak",
    "client_secret": "daklak-portal-demo-secret-2f6c9e81b4a7d035",
    "base_url": "http://127.0.0.1:5001",
    "scope": "openid profile phone email",
    "login_acr": "LoA1",
    "submit_acr": "LoA2",
    "theme": THEME,
}


create_app, __getattr__ = entry_points("DAKLAK", DEFAULTS)
