"""Webhook verification: each scheme accepts a correctly signed request and refuses tampering."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import datetime, timezone

import pytest
from multidict import CIMultiDict
from standardwebhooks.webhooks import Webhook

from runner.errors import AuthError
from runner.triggers.verify import VerificationError, WebhookAuth, verify_request

BODY = b'{"event":"lead.created","id":42,"name":"Zo\xc3\xab"}'
SECRET = "s3cr3t-signing-key"
NOW = 1_700_000_000.0
TS = str(int(NOW))
WH_SECRET = "whsec_" + base64.b64encode(b"standard-webhooks-test-key-32byt").decode()


def hexmac(secret: str | bytes, message: bytes, algorithm: str = "sha256") -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, algorithm).hexdigest()


def refused(
    auth: WebhookAuth, headers: dict[str, str], body: bytes = BODY, now: float = NOW
) -> str:
    with pytest.raises(VerificationError) as info:
        verify_request(auth, CIMultiDict(headers), body, now)
    return str(info.value)


def accepted(
    auth: WebhookAuth, headers: dict[str, str], body: bytes = BODY, now: float = NOW
) -> None:
    verify_request(auth, CIMultiDict(headers), body, now)


# --- configuration ---------------------------------------------------------------------------


def test_verification_error_is_an_auth_error() -> None:
    assert issubclass(VerificationError, AuthError)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"type": "oauth"},
        {"type": "hmac"},
        {"type": "header"},
        {"type": "hmac", "header": "X-Sig", "algorithm": "md5"},
        {"type": "hmac", "header": "X-Sig", "encoding": "base32"},
        {"type": "stripe", "tolerance": -1.0},
    ],
)
def test_impossible_configuration_is_refused_when_built(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        WebhookAuth(**kwargs)  # type: ignore[arg-type]


def test_repr_hides_secrets() -> None:
    auth = WebhookAuth("basic", secret="topsecret", username="u", password="pw-hidden", value="v1x")
    text = repr(auth)
    assert "topsecret" not in text and "pw-hidden" not in text and "v1x" not in text


# --- hmac ------------------------------------------------------------------------------------


def encode(digest: bytes, encoding: str) -> str:
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_hmac_accepts_each_algorithm_and_encoding(algorithm: str, encoding: str) -> None:
    auth = WebhookAuth("hmac", SECRET, header="X-Signature", algorithm=algorithm, encoding=encoding)
    digest = hmac.new(SECRET.encode(), BODY, algorithm).digest()
    accepted(auth, {"x-signature": encode(digest, encoding)})


HMAC = WebhookAuth("hmac", SECRET, header="X-Signature", prefix="sha256=")
GOOD_HMAC = "sha256=" + hexmac(SECRET, BODY)


def test_hmac_strips_prefix_and_compares_hex_case_insensitively() -> None:
    accepted(HMAC, {"X-Signature": GOOD_HMAC})
    accepted(HMAC, {"X-Signature": "sha256=" + hexmac(SECRET, BODY).upper()})


def test_hmac_base64_accepts_unpadded_and_url_safe() -> None:
    auth = WebhookAuth("hmac", SECRET, header="X-Signature", algorithm="sha1", encoding="base64")
    digest = hmac.new(SECRET.encode(), BODY, "sha1").digest()
    accepted(auth, {"X-Signature": base64.urlsafe_b64encode(digest).decode().rstrip("=")})


def test_hmac_finds_header_in_plain_dict_of_any_case() -> None:
    verify_request(HMAC, {"x-SIGNATURE": GOOD_HMAC}, BODY, NOW)


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"X-Signature": "sha256=" + hexmac("wrong", BODY)}, BODY, "bad signature"),
        ({"X-Signature": GOOD_HMAC}, BODY + b" ", "bad signature"),
        ({}, BODY, "missing header X-Signature"),
        ({"X-Signature": hexmac(SECRET, BODY)}, BODY, "does not start with"),
        ({"X-Signature": "sha256=not-hex!"}, BODY, "does not hold a hex"),
        ({"X-Signature": "sha256=" + hexmac(SECRET, BODY)[:-2]}, BODY, "bad signature"),
    ],
)
def test_hmac_refuses_tampering(headers: dict[str, str], body: bytes, expected: str) -> None:
    assert expected in refused(HMAC, headers, body)


def test_hmac_without_secret_refuses_everything() -> None:
    auth = WebhookAuth("hmac", "", header="X-Signature")
    assert "no secret" in refused(auth, {"X-Signature": hexmac("", BODY)})


# --- basic -----------------------------------------------------------------------------------


def basic(user: str, password: str, scheme: str = "Basic") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"{scheme} {token}"}


BASIC = WebhookAuth("basic", username="forms", password="pa:ss wörd")


def test_basic_accepts_right_credentials_with_any_scheme_case() -> None:
    accepted(BASIC, basic("forms", "pa:ss wörd"))
    accepted(BASIC, basic("forms", "pa:ss wörd", scheme="basic"))


def test_basic_password_falls_back_to_secret() -> None:
    accepted(WebhookAuth("basic", secret=SECRET, username="forms"), basic("forms", SECRET))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (basic("forms", "wrong"), "wrong username or password"),
        (basic("other", "pa:ss wörd"), "wrong username or password"),
        ({}, "missing header Authorization"),
        (basic("forms", "pa:ss wörd", scheme="Bearer"), "does not hold Basic"),
        ({"Authorization": "Basic %%%notbase64"}, "malformed Basic"),
        ({"Authorization": "Basic " + base64.b64encode(b"nocolon").decode()}, "malformed Basic"),
    ],
)
def test_basic_refuses_wrong_or_malformed_credentials(
    headers: dict[str, str], expected: str
) -> None:
    assert expected in refused(BASIC, headers)


def test_basic_without_password_refuses_everything() -> None:
    assert "no password" in refused(WebhookAuth("basic", username="forms"), basic("forms", ""))


# --- header ----------------------------------------------------------------------------------


def test_header_accepts_value_then_falls_back_to_secret() -> None:
    accepted(WebhookAuth("header", header="X-Token", value="tok-123"), {"x-token": "tok-123"})
    accepted(WebhookAuth("header", SECRET, header="X-Token"), {"X-Token": SECRET})


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Token": "tok-124"}, "wrong value in header X-Token"),
        ({"X-Token": "tok-123 "}, "wrong value"),
        ({"X-Other": "tok-123"}, "missing header X-Token"),
    ],
)
def test_header_refuses_other_values(headers: dict[str, str], expected: str) -> None:
    assert expected in refused(WebhookAuth("header", header="X-Token", value="tok-123"), headers)


def test_header_without_expected_value_refuses_everything() -> None:
    assert "no expected value" in refused(WebhookAuth("header", header="X-Token"), {"X-Token": ""})


# --- github ----------------------------------------------------------------------------------

GITHUB = WebhookAuth("github", SECRET)


def test_github_accepts_signature_256() -> None:
    accepted(GITHUB, {"X-Hub-Signature-256": "sha256=" + hexmac(SECRET, BODY)})


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"X-Hub-Signature-256": "sha256=" + hexmac("wrong", BODY)}, BODY, "bad signature"),
        ({"X-Hub-Signature-256": "sha256=" + hexmac(SECRET, BODY)}, b"{}", "bad signature"),
        ({"X-Hub-Signature": "sha1=" + hexmac(SECRET, BODY, "sha1")}, BODY, "missing header"),
        ({"X-Hub-Signature-256": "sha1=" + hexmac(SECRET, BODY)}, BODY, "does not start with"),
        ({"X-Hub-Signature-256": "sha256="}, BODY, "does not hold a hex"),
    ],
)
def test_github_refuses_tampering(headers: dict[str, str], body: bytes, expected: str) -> None:
    assert expected in refused(GITHUB, headers, body)


# --- stripe ----------------------------------------------------------------------------------

STRIPE = WebhookAuth("stripe", SECRET, tolerance=300)


def stripe_sig(secret: str = SECRET, ts: str = TS, body: bytes = BODY) -> str:
    return hexmac(secret, f"{ts}.".encode() + body)


def test_stripe_accepts_any_matching_v1_and_ignores_v0() -> None:
    accepted(STRIPE, {"Stripe-Signature": f"t={TS},v1={stripe_sig()}"})
    header = f"t={TS},v1={stripe_sig()},v1={stripe_sig('old-secret')},v0={stripe_sig('x')}"
    accepted(STRIPE, {"Stripe-Signature": header})


def test_stripe_accepts_edges_of_the_tolerance() -> None:
    for ts in (int(NOW) - 300, int(NOW) + 300):
        accepted(STRIPE, {"Stripe-Signature": f"t={ts},v1={stripe_sig(ts=str(ts))}"})


STALE, FUTURE = str(int(NOW) - 301), str(int(NOW) + 301)


@pytest.mark.parametrize(
    ("header", "body", "expected"),
    [
        (f"t={TS},v1={stripe_sig('wrong')}", BODY, "bad signature"),
        (f"t={TS},v1={stripe_sig()}", BODY + b"x", "bad signature"),
        (f"t={int(NOW) - 1},v1={stripe_sig()}", BODY, "bad signature"),
        (f"t={STALE},v1={stripe_sig(ts=STALE)}", BODY, "301 s old"),
        (f"t={FUTURE},v1={stripe_sig(ts=FUTURE)}", BODY, "301 s in the future"),
        (f"t={TS},v0={stripe_sig()}", BODY, "no v1 signature"),
        (f"v1={stripe_sig()}", BODY, "no timestamp"),
        (f"t=1e9,v1={stripe_sig(ts='1e9')}", BODY, "does not hold a Unix timestamp"),
        (f"t={TS},v1=zz{stripe_sig()[2:]}", BODY, "bad signature"),
    ],
)
def test_stripe_refuses_tampering(header: str, body: bytes, expected: str) -> None:
    assert expected in refused(STRIPE, {"Stripe-Signature": header}, body)


def test_stripe_refuses_missing_header() -> None:
    assert "missing header Stripe-Signature" in refused(STRIPE, {})


# --- slack -----------------------------------------------------------------------------------

SLACK = WebhookAuth("slack", SECRET)


def slack(secret: str = SECRET, ts: str = TS, body: bytes = BODY) -> dict[str, str]:
    signature = "v0=" + hexmac(secret, f"v0:{ts}:".encode() + body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


def test_slack_accepts_v0_signature() -> None:
    accepted(SLACK, slack())


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        (slack("wrong"), BODY, "bad signature"),
        (slack(), b"token=x", "bad signature"),
        ({**slack(), "X-Slack-Request-Timestamp": str(int(NOW) - 5)}, BODY, "bad signature"),
        (slack(ts=STALE), BODY, "outside tolerance"),
        (slack(ts=FUTURE), BODY, "in the future"),
        ({"X-Slack-Signature": slack()["X-Slack-Signature"]}, BODY, "missing header X-Slack-Req"),
        ({"X-Slack-Request-Timestamp": TS}, BODY, "missing header X-Slack-Signature"),
        ({**slack(), "X-Slack-Signature": slack()["X-Slack-Signature"][3:]}, BODY, "'v0='"),
        ({**slack(), "X-Slack-Request-Timestamp": "-1"}, BODY, "does not hold a Unix"),
    ],
)
def test_slack_refuses_tampering(headers: dict[str, str], body: bytes, expected: str) -> None:
    assert expected in refused(SLACK, headers, body)


# --- standard webhooks ------------------------------------------------------------------------

STANDARD = WebhookAuth("standard_webhooks", WH_SECRET)
MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"


def package_headers(
    secret: str = WH_SECRET, ts: float = NOW, msg_id: str = MSG_ID
) -> dict[str, str]:
    """Headers as a sender using the reference `standardwebhooks` package makes them."""
    when = datetime.fromtimestamp(ts, tz=timezone.utc)
    signature = Webhook(secret).sign(msg_id, when, BODY.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(ts)), "webhook-signature": signature}


def own_signature(secret: str, msg_id: str, ts: str, body: bytes) -> str:
    """Sign as the Standard Webhooks spec describes, independently of the package."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def test_standard_webhooks_accepts_package_signature() -> None:
    accepted(STANDARD, package_headers())


def test_standard_webhooks_accepts_one_match_among_several_signatures() -> None:
    headers = package_headers()
    other = package_headers(secret="whsec_" + base64.b64encode(b"rotated-out-key").decode())
    headers["webhook-signature"] = " ".join(
        [other["webhook-signature"], headers["webhook-signature"], "v1a,c2lnbmF0dXJl", "v1,***"]
    )
    accepted(STANDARD, headers)


def test_standard_webhooks_secret_without_prefix_is_base64_like_the_package() -> None:
    bare = WH_SECRET.removeprefix("whsec_")
    accepted(WebhookAuth("standard_webhooks", bare), package_headers(secret=bare))
    accepted(WebhookAuth("standard_webhooks", bare), package_headers())


def test_standard_webhooks_reads_svix_header_names_too() -> None:
    svix = {k.replace("webhook-", "Svix-"): v for k, v in package_headers().items()}
    accepted(STANDARD, svix)
    svix["Svix-signature"] = package_headers(msg_id="msg_other")["webhook-signature"]
    assert "svix-signature" in refused(STANDARD, svix)
    assert refused(STANDARD, {}) == "missing header webhook-id"


def test_package_verifier_accepts_what_the_test_signs() -> None:
    ts = str(int(time.time()))
    signature = own_signature(WH_SECRET, MSG_ID, ts, BODY)
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": ts, "webhook-signature": signature}
    Webhook(WH_SECRET).verify(BODY, headers, json_parse=False)
    accepted(STANDARD, headers, now=float(ts))


def test_standard_webhooks_refuses_undecodable_secret() -> None:
    auth = WebhookAuth("standard_webhooks", "whsec_abcde")
    assert "not base64" in refused(auth, package_headers())


def tampered(**changes: str) -> dict[str, str]:
    return {**package_headers(), **changes}


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        (package_headers(secret="whsec_" + base64.b64encode(b"x" * 24).decode()), BODY, "bad sig"),
        (package_headers(), BODY.replace(b"42", b"43"), "bad signature"),
        (tampered(**{"webhook-id": "msg_other"}), BODY, "bad signature"),
        (tampered(**{"webhook-timestamp": str(int(NOW) + 1)}), BODY, "bad signature"),
        (package_headers(ts=NOW - 301), BODY, "301 s old"),
        (package_headers(ts=NOW + 301), BODY, "301 s in the future"),
        (tampered(**{"webhook-timestamp": "17e8"}), BODY, "does not hold a Unix timestamp"),
        (tampered(**{"webhook-signature": "v1a,c2ln v2,c2ln"}), BODY, "no v1 signature"),
        (tampered(**{"webhook-signature": "v1,***"}), BODY, "bad signature"),
    ],
)
def test_standard_webhooks_refuses_tampering(
    headers: dict[str, str], body: bytes, expected: str
) -> None:
    assert expected in refused(STANDARD, headers, body)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_standard_webhooks_refuses_missing_header(missing: str) -> None:
    headers = {k: v for k, v in package_headers().items() if k != missing}
    assert f"missing header {missing}" in refused(STANDARD, headers)


# --- messages leak nothing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "headers", "expected_signature"),
    [
        (HMAC, {"X-Signature": "sha256=" + hexmac("wrong", BODY)}, hexmac(SECRET, BODY)),
        (GITHUB, {"X-Hub-Signature-256": "sha256=00"}, hexmac(SECRET, BODY)),
        (STRIPE, {"Stripe-Signature": f"t={TS},v1=00"}, stripe_sig()),
        (SLACK, slack("wrong"), slack()["X-Slack-Signature"][3:]),
        (
            STANDARD,
            tampered(**{"webhook-signature": "v1,AAAA"}),
            package_headers()["webhook-signature"][3:],
        ),
        (BASIC, basic("forms", "nope"), "pa:ss wörd"),
        (WebhookAuth("header", SECRET, header="X-Token"), {"X-Token": "guess"}, SECRET),
    ],
)
def test_error_messages_never_show_secret_or_expected_signature(
    auth: WebhookAuth, headers: dict[str, str], expected_signature: str
) -> None:
    message = refused(auth, headers)
    for hidden in (auth.secret, auth.password, auth.value, expected_signature):
        assert not hidden or hidden not in message
