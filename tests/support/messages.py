"""Asserting user-facing messages by id, not by Vietnamese prose (issue 13 item 5).

Templates render every message with its id next to the text: `data-msg="otp.wrong"` (the
`_macros.html` field macro and error summary, idp/platform/messages). A test asserts the id:

    assert_message(response, "otp.wrong")
"""
from __future__ import annotations

import re
from typing import Any

_DATA_MSG = re.compile(r'data-msg="([^"]+)"')


def _html(page: Any) -> str:
    """The HTML of a Flask test response, a requests/Playwright response or page, or a str."""
    if isinstance(page, str):
        return page
    if hasattr(page, "get_data"):  # werkzeug TestResponse
        return page.get_data(as_text=True)
    if hasattr(page, "content") and callable(page.content):  # Playwright page
        return page.content()
    if hasattr(page, "text"):  # requests.Response
        text = page.text
        return text() if callable(text) else text
    raise TypeError(f"cannot read HTML from {type(page).__name__}")


def message_ids(page: Any) -> list[str]:
    """Every message id shown on the page, in order."""
    return _DATA_MSG.findall(_html(page))


def assert_message(page: Any, message_id: str) -> None:
    """The page shows the message `message_id` (its `data-msg` attribute)."""
    shown = message_ids(page)
    assert message_id in shown, f"message {message_id!r} not on the page; shown: {shown}"
