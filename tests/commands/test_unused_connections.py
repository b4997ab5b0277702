"""One-shot commands set up only the connections they use: a connection elsewhere in the same
folder whose secret is not provided here, or whose client key is not mounted here, does not stop
`runner run` of a recipe that does not use it, nor `runner connection test` of another one."""

from __future__ import annotations

from pathlib import Path

from tests.commands.test_run_command import runner, write

BROKEN = """kind: connection
name: vault
base_url: https://vault.example
auth: {type: basic, username: u, password: "{{ secrets.VAULT_PASSWORD }}"}
---
kind: connection
name: partner
base_url: https://partner.example
tls: {client_cert: certs/missing.pem, client_key: certs/client.key}
test: {method: GET, url: /me}
"""


def documents(folder: Path, sink_url: str) -> None:
    write(folder, "broken.yaml", BROKEN)
    write(folder, "fine.yaml", f"""kind: connection
name: fine
base_url: {sink_url}
private_network: true
test: {{method: GET, url: /ping}}
---
kind: recipe
name: ping
trigger: {{webhook: {{}}}}
steps:
  - id: ping
    request: {{connection: fine, url: /ping}}
""")


async def test_run_and_connection_test_ignore_connections_they_do_not_use(sink, tmp_path) -> None:
    documents(tmp_path, sink.url)
    code, out, err = await runner(tmp_path, "run", "ping", ".")
    assert (code, err) == (0, ""), out
    code, out, err = await runner(tmp_path, "connection", "test", "fine", ".")
    assert code == 0, err
    assert "✓ connection fine works" in out
    assert [r.path for r in sink.recorder.requests] == ["/ping", "/ping"]


async def test_a_missing_tls_file_is_named_for_the_connection_that_uses_it(sink, tmp_path) -> None:
    documents(tmp_path, sink.url)
    code, out, err = await runner(tmp_path, "connection", "test", "partner", ".")
    assert code == 2  # a file not there: the environment's problem, as a secret not provided
    missing = tmp_path / "certs" / "missing.pem"
    assert err.startswith(f"✗ connection partner: cannot load TLS files: tls.client_cert {missing}: ")
    assert "connection partner: connection partner" not in err


async def test_serve_still_refuses_to_start_on_any_broken_connection(sink, tmp_path) -> None:
    documents(tmp_path, sink.url)
    code, out, err = await runner(tmp_path, "serve", ".", "--port", "0", "--store",
                                  f"sqlite:///{tmp_path}/s.db", env={"VAULT_PASSWORD": "pw-123456"})
    assert code == 2
    assert "connection partner: cannot load TLS files: tls.client_cert" in out + err
