"""The Eventbrite walkthrough's `new-lead-to-venue` recipe, as shipped in examples/, through a real
`runner serve`: a signed lead becomes a venue and the form gets its id; a lead without a country
creates none and gets `{"venue_id": null}` (not a 500 after a succeeded job). The connection is
swapped for one to a local sink (Eventbrite itself needs an OAuth2 login)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from tests.daemon.conftest import ROOT, Sink, http, wait_for
from tests.support.servers import Reply

FORM_SECRET = "form-secret-5be1c0"


def example_with_local_connection(folder: Path, sink_url: str) -> Path:
    documents = (ROOT / "examples" / "eventbrite" / "eventbrite.yaml").read_text().split("\n---\n")
    local = f"kind: connection\nname: eventbrite\nbase_url: {sink_url}\nprivate_network: true\n"
    path = folder / "eventbrite.yaml"
    path.write_text("\n---\n".join([local, *documents[1:]]))
    return path


def post_lead(url: str, lead: dict[str, str]) -> tuple[int, object]:
    body = json.dumps(lead).encode()
    signature = "sha256=" + hmac.new(FORM_SECRET.encode(), body, hashlib.sha256).hexdigest()
    status, answer = http("POST", f"{url}/webhooks/new-lead", body,
                          {"Content-Type": "application/json", "X-Signature": signature})
    return status, json.loads(answer)


def test_a_lead_becomes_a_venue_and_one_without_a_country_gets_null(
    tmp_path: Path, sink: Sink, daemons
) -> None:
    sink.script("/organizations/1234567/venues/", Reply(json={"id": "v-77"}))
    daemon = daemons([example_with_local_connection(tmp_path, sink.url)],
                     env={"FORM_SECRET": FORM_SECRET}).start()
    assert post_lead(daemon.url, {"venue": "Town Hall", "city": "Oslo", "country": "no"}) == (
        200, {"venue_id": "v-77"})
    [created] = sink.for_path("/organizations/1234567/venues/")
    assert created.json()["venue"]["address"] == {"address_1": "", "city": "Oslo", "country": "NO"}
    assert post_lead(daemon.url, {"venue": "No country"}) == (200, {"venue_id": None})
    wait_for(lambda: len(daemon.jobs("--status", "succeeded")) == 2, 10, "both jobs recorded")
    assert len(sink.for_path("/organizations/1234567/venues/")) == 1
    assert daemon.stop() == 0
