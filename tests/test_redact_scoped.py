"""A job's own redactor, the credential values a request sent, and credential headers as data."""

from __future__ import annotations

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
