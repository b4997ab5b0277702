"""A job's own redactor, the credential values a request sent, and credential headers as data."""

from __future__ import annotations

import json

from multidict import CIMultiDict

from runner.redact import Redactor, mask_credential_headers


def test_a_scoped_redactor_hides_its_parents_values_even_those_added_later() -> None:
    shared = Redactor(["shared-secret-1"])
    job = shared.scoped()
    job.add("job-only-value")
    shared.add("added-later-2")
    text = "shared-secret-1 job-only-value added-later-2"
    assert job.redact_text(text) == "*** *** ***"
    assert shared.redact_text(text) == "*** job-only-value ***"
    assert job.redact_data({"k": ["job-only-value"]}) == {"k": ["***"]}
    assert job.redact_header_pairs([("X-A", "v job-only-value")]) == [("X-A", "v ***")]


def test_an_empty_scoped_redactor_holds_its_parents_values() -> None:
    assert not Redactor().scoped().holds_values
    assert Redactor(["abc-123"]).scoped().holds_values


def test_sent_credential_headers_are_recorded_without_their_scheme() -> None:
    redactor = Redactor()
    redactor.add_sent_headers(CIMultiDict([
        ("authorization", "Bearer tok-abc-123"), ("Cookie", "a=b; sid=c00k1e"),
        ("Proxy-Authorization", "Basic cHJveHk="), ("X-Other", "not-a-credential"),
    ]))
    text = '{"a": "Bearer tok-abc-123", "c": "a=b; sid=c00k1e", "p": "cHJveHk=", "o": "not-a-credential"}'
    assert redactor.redact_text(text) == '{"a": "Bearer ***", "c": "***", "p": "***", "o": "not-a-credential"}'


def test_credential_headers_kept_as_data_are_masked_by_name_whatever_their_case() -> None:
    headers = {"Authorization": "Bearer x", "cookie": "y", "SET-COOKIE": "z",
               "proxy-authorization": "w", "X-Trace": "t", "Count": 3}
    assert mask_credential_headers(headers) == {
        "Authorization": "***", "cookie": "***", "SET-COOKIE": "***",
        "proxy-authorization": "***", "X-Trace": "t", "Count": 3}


def test_a_secret_is_hidden_in_a_url_path_where_it_is_percent_encoded() -> None:
    redactor = Redactor(["p@ss w/rd+&=\u00fc"])
    url = "https://api.example/hooks/p@ss%20w/rd+&=%C3%BC/x"
    assert redactor.redact_url(url) == "https://api.example/hooks/***/x"


def test_a_secret_with_quotes_is_hidden_in_a_json_text_held_as_a_string() -> None:
    secret = 'quo"te\\back'
    redactor = Redactor([secret])
    echoed = json.dumps({"s": secret})  # an API answering with the raw request body as text
    assert redactor.redact_data({"body": echoed}) == {"body": '{"s": "***"}'}


def test_cookies_a_response_sets_are_recorded_by_value() -> None:
    redactor = Redactor()
    redactor.add_set_cookies(CIMultiDict([("Set-Cookie", "sid=abc-123; Path=/; HttpOnly"),
                                          ("Set-Cookie", 'pref="quoted-val"'), ("X-A", "b")]))
    assert redactor.redact_text("sid=abc-123 pref=quoted-val") == "sid=*** pref=***"


def test_a_secret_echoed_inside_a_json_body_held_as_text_is_hidden() -> None:
    secret = 's3cr3t"<&>/val\\\\ue'
    redactor = Redactor([secret])
    sent = json.dumps({"raw": secret})  # the request body
    echoed = json.dumps({"body": sent})  # an API answering with it as a string, as text
    assert secret not in redactor.redact_text(echoed) and "***" in redactor.redact_text(echoed)
    assert json.dumps(secret)[1:-1] not in redactor.redact_text(echoed)
