"""Secret values and credential headers never survive redaction, in any shape they travel in."""

from __future__ import annotations

import base64
import json
import logging
import time
from urllib.parse import quote, quote_plus

import pytest
from multidict import CIMultiDict

from runner.redact import REDACTED, RedactingFilter, Redactor

TOKEN = "tok_9f8e7d6c5b4a"
PASSWORD = "p@ss w/rd&x=1"


@pytest.fixture
def redactor() -> Redactor:
    return Redactor([TOKEN, PASSWORD])


def test_every_occurrence_is_replaced(redactor: Redactor) -> None:
    text = f"a {TOKEN} b {TOKEN}{PASSWORD} c"
    assert redactor.redact_text(text) == "a *** b *** c"


def test_text_without_secrets_is_returned_unchanged(redactor: Redactor) -> None:
    text = "nothing to see"
    assert redactor.redact_text(text) is text


def test_overlapping_secrets_leave_no_fragment() -> None:
    redactor = Redactor(["abcdef", "defghi"])
    assert redactor.redact_text("xx abcdefghi yy") == "xx *** yy"
    assert redactor.redact_text("xx defghi abcdef") == "xx *** ***"


def test_longer_secret_containing_a_shorter_one_is_hidden_whole() -> None:
    redactor = Redactor(["secret", "secret-extended"])
    assert redactor.redact_text("[secret-extended] [secret]") == "[***] [***]"


def test_values_shorter_than_three_characters_are_ignored() -> None:
    redactor = Redactor(["", "a", "ab", "abc"])
    assert redactor.redact_text("a ab abc") == "a ab ***"


def test_url_encoded_and_json_escaped_forms_are_hidden() -> None:
    secret = 'he said "hi" / naïve & more'
    redactor = Redactor([secret])
    for shown in (json.dumps(secret), json.dumps(secret, ensure_ascii=False)):
        assert redactor.redact_text(shown) == '"***"'
    assert redactor.redact_text(f"q={quote(secret, safe='')}") == "q=***"
    assert redactor.redact_text(f"q={quote_plus(secret)}") == "q=***"


def test_basic_auth_token_is_hidden() -> None:
    redactor = Redactor()
    redactor.add_basic_auth("alice", "opensesame")
    token = base64.b64encode(b"alice:opensesame").decode()
    assert redactor.redact_text(f"sent Basic {token}") == "sent Basic ***"
    assert redactor.redact_text("opensesame") == REDACTED


def test_credential_headers_are_hidden_whatever_their_case(redactor: Redactor) -> None:
    headers = {
        "authorization": "Bearer anything",
        "Cookie": "session=1",
        "SET-COOKIE": "a=b",
        "Proxy-Authorization": "Basic x",
        "X-Api-Key": TOKEN,
        "Accept": "application/json",
    }
    assert redactor.redact_headers(headers) == {
        "authorization": REDACTED,
        "Cookie": REDACTED,
        "SET-COOKIE": REDACTED,
        "Proxy-Authorization": REDACTED,
        "X-Api-Key": REDACTED,
        "Accept": "application/json",
    }


def test_repeated_headers_are_kept_as_pairs_or_joined(redactor: Redactor) -> None:
    headers = CIMultiDict(
        [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Via", "x"), ("via", f"y {TOKEN}")]
    )
    assert redactor.redact_header_pairs(headers) == [
        ("Set-Cookie", REDACTED), ("Set-Cookie", REDACTED), ("Via", "x"), ("via", "y ***"),
    ]
    assert redactor.redact_headers(headers) == {"Set-Cookie": "***, ***", "Via": "x, y ***"}
    assert redactor.redact_headers([("Accept", "a"), ("Accept", "b")]) == {"Accept": "a, b"}


def test_nested_data_is_redacted_in_keys_and_values(redactor: Redactor) -> None:
    data = {
        "list": [TOKEN, {"deep": f"x{PASSWORD}x"}, 3, None, True],
        TOKEN: ("tuple", TOKEN),
        "raw": f"bytes {TOKEN}".encode() + b"\xff",
        "n": 1.5,
    }
    assert redactor.redact_data(data) == {
        "list": [REDACTED, {"deep": "x***x"}, 3, None, True],
        REDACTED: ("tuple", REDACTED),
        "raw": b"bytes ***\xff",
        "n": 1.5,
    }
    assert data["list"][0] == TOKEN  # the original is untouched


def test_url_userinfo_password_is_hidden_even_when_unknown(redactor: Redactor) -> None:
    url = "https://bob:hunter2@example.com/x"
    assert redactor.redact_url(url) == "https://bob:***@example.com/x"
    assert redactor.redact_url("https://bob@example.com/") == "https://bob@example.com/"


def test_url_query_secrets_are_hidden_however_encoded(redactor: Redactor) -> None:
    url = f"https://h/p?a=1&key={TOKEN}&pw=p%40ss%20w%2Frd%26x%3D1&pw2=p@ss+w/rd%26x%3D1&flag"
    assert redactor.redact_url(url) == "https://h/p?a=1&key=***&pw=***&pw2=***&flag"


def test_url_credential_parameters_are_hidden_by_name() -> None:
    url = "https://h/cb?access_token=abc.def&Token=zz&page=2&api_key="
    assert Redactor().redact_url(url) == "https://h/cb?access_token=***&Token=***&page=2&api_key="


def test_url_path_and_fragment_are_redacted(redactor: Redactor) -> None:
    assert redactor.redact_url(f"https://h/{TOKEN}/x#{TOKEN}") == "https://h/***/x#***"


def test_logging_filter_redacts_message_args_extra_and_traceback(
    redactor: Redactor, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("test_redact.filter")
    caplog.handler.addFilter(RedactingFilter(redactor))
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info("calling with %s", TOKEN, extra={"job": {"auth": TOKEN}})
        try:
            raise ValueError(f"bad {PASSWORD}")
        except ValueError:
            logger.exception("failed")
    first, second = caplog.records
    assert first.getMessage() == "calling with ***"
    assert first.job == {"auth": REDACTED}  # type: ignore[attr-defined]
    assert "bad ***" in caplog.text
    assert TOKEN not in caplog.text and PASSWORD not in caplog.text
    assert second.exc_text is not None and PASSWORD not in second.exc_text


def test_logging_filter_survives_a_bad_format_string(redactor: Redactor) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d items %s", (TOKEN,), None)
    assert RedactingFilter(redactor).filter(record)
    assert TOKEN not in record.getMessage()


def test_logging_filter_redacts_text_fields_and_leaves_numbers(redactor: Redactor) -> None:
    record = logging.getLogger("x").makeRecord(
        "x", logging.INFO, __file__, 1, "done", (), None,
        extra={"error": f"401 for {TOKEN}", "steps": 3, "ok": True, "took": 1.5, "none": None,
               "_hidden": [TOKEN]},
    )
    assert RedactingFilter(redactor).filter(record)
    fields = vars(record)
    assert fields["error"] == "401 for ***" and fields["_hidden"] == [REDACTED]
    assert (fields["steps"], fields["ok"], fields["took"], fields["none"]) == (3, True, 1.5, None)


def test_logging_filter_without_secrets_still_merges_the_message() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d items", (3,), None)
    bad = logging.LogRecord("x", logging.INFO, __file__, 1, "%d items %s", ("x",), None)
    assert RedactingFilter(Redactor()).filter(record) and RedactingFilter(Redactor()).filter(bad)
    assert (record.msg, record.args) == ("3 items", None)
    assert bad.getMessage() == "%d items %s ('x',)"  # logged raw, not an error in the handler


def test_five_megabyte_body_is_redacted_quickly() -> None:
    secrets = [f"secret-value-{i:03d}-{'x' * (i % 30)}" for i in range(50)]
    redactor = Redactor(secrets)
    chunk = "lorem ipsum dolor sit amet, consectetur " * 25  # 1000 characters
    body = (chunk + secrets[7]) * 5000
    assert len(body) > 5_000_000
    started = time.perf_counter()
    redacted = redactor.redact_text(body)
    elapsed = time.perf_counter() - started
    assert redacted.count(REDACTED) == 5000 and secrets[7] not in redacted
    assert elapsed < 0.5, f"redacting 5 MB took {elapsed:.3f}s"


def test_a_secret_inside_a_mapping_json_cannot_encode_is_still_found() -> None:
    """The quick check encodes the data as JSON; what it cannot encode is visited instead."""
    from runner.engine.messages import Headers

    redactor = Redactor()
    redactor.add("s3cr3t-value")
    data = {"headers": Headers({"X-Key": "s3cr3t-value"}), "n": 2**70}
    redacted = redactor.redact_data(data)
    assert redacted["headers"] == {"X-Key": "***"} and redacted["n"] == 2**70
