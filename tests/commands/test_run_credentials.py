"""`runner run` never shows a credential header value: the event's, or a response's Set-Cookie."""

from __future__ import annotations

import json

from tests.commands.test_run_command import runner, write
from tests.support.servers import Reply

BEARER = "Bearer event-bearer-8d1f"
COOKIE = "sid=event-cookie-44aa"
SESSION = "sess-run-0b6e93"

RECIPE = """kind: connection
name: api
base_url: {url}
private_network: true
---
kind: recipe
name: hook
trigger: {{webhook: {{}}}}
steps:
  - id: login
    request:
      connection: api
      method: POST
      url: /login
      json: {{seen: "{{{{ trigger.headers.authorization }}}}",
              cookie: "{{{{ trigger.headers['Cookie'] }}}}",
              other: "{{{{ trigger.headers['X-Other'] }}}}"}}
"""


async def test_event_credential_headers_are_stars_in_templates_and_output(sink, tmp_path):
    login = Reply(json={"ok": True}, headers={"Set-Cookie": f"session={SESSION}; Path=/"})
    sink.recorder.script("/login", login, login)
    write(tmp_path, "docs.yaml", RECIPE.format(url=sink.url))
    event = {"body": {}, "headers": {"Authorization": BEARER, "cookie": COOKIE, "X-Other": "o-1"}}
    write(tmp_path, "event.json", json.dumps(event))
    code, out, err = await runner(tmp_path, "run", "hook", "docs.yaml", "--event", "event.json")
    assert code == 0, out + err
    code, js, err2 = await runner(tmp_path, "run", "hook", "docs.yaml", "--event", "event.json",
                                  "--format", "json")
    assert code == 0, js + err2
    job = json.loads(js)
    assert job["event"]["headers"] == {"Authorization": "***", "cookie": "***", "X-Other": "o-1"}
    assert job["steps"][0]["output"]["headers"]["Set-Cookie"] == "***"
    sent = [r.json() for r in sink.recorder.for_path("/login")]
    assert sent == [{"seen": "***", "cookie": "***", "other": "o-1"}] * 2
    for text in (out, err, js, err2):
        for value in ("event-bearer-8d1f", "event-cookie-44aa", SESSION):
            assert value not in text
