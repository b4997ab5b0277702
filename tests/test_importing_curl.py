"""parse_curl and build_step on their own: each option maps where a user expects it."""

from __future__ import annotations

import pytest

from runner.importing.curl import CurlError, parse_curl
from runner.importing.step_yaml import build_step


def test_data_urlencode_cookie_and_custom_key_header():
    req = parse_curl("curl https://h/x --data-urlencode 'q=a b' -b 'sid=S3CR' -H 'X-API-Key: K3Y'")
    step, notes = build_step(req, "s", None, None, False)
    assert step["request"]["form"] == {"q": "a b"}
    assert step["request"]["headers"] == {"Cookie": "{{ secrets.COOKIE }}",
                                          "X-API-Key": "{{ secrets.X_API_KEY }}"}
    assert "S3CR" not in str(notes) and "K3Y" not in str(notes)


def test_json_body_detected_without_content_type_and_auth_dropped_for_a_connection():
    req = parse_curl("curl https://h/v1/x -d '[1]' -H 'Authorization: Bearer T'")
    step, notes = build_step(req, "s", "h", "https://h/v1", True)
    assert step["request"] == {"connection": "h", "method": "POST", "url": "/x", "json": [1]}
    assert notes == ["header Authorization dropped: connection h supplies the auth"]


def test_a_header_without_colon_is_named():
    with pytest.raises(CurlError, match="token 3 'oops'"):
        parse_curl("curl -H oops http://h")
