"""A connection that exists but is invalid is reported once, not again as unknown by its users."""

from runner.commands.validate import check

RECIPE = (
    "kind: recipe\nname: r\ntrigger: {webhook: {}}\nsteps:\n"
    "  - id: a\n    request: {connection: c, url: /x}\n"
)


def codes(tmp_path, connection: str) -> list[tuple[str, int, str]]:
    (tmp_path / "c.yaml").write_text(connection)
    (tmp_path / "r.yaml").write_text(RECIPE)
    _, diagnostics = check([str(tmp_path)])
    return [(d.location.file.rsplit("/", 1)[-1], d.location.line, d.code) for d in diagnostics]


def test_users_of_an_invalid_connection_do_not_call_it_unknown(tmp_path):
    found = codes(tmp_path, "kind: connection\nname: c\nbase_url: https://x.example\nbogus: 1\n")
    assert found == [("c.yaml", 4, "unknown-field")]


def test_an_invalid_base_url_is_not_reported_missing_again(tmp_path):
    found = codes(tmp_path, "kind: connection\nname: c\nbase_url: [1]\n")
    assert found == [("c.yaml", 3, "invalid-value")]


def test_an_invalid_connection_without_base_url_still_explains_the_relative_url(tmp_path):
    found = codes(tmp_path, "kind: connection\nname: c\nbogus: 1\n")
    assert found == [("c.yaml", 3, "unknown-field"), ("r.yaml", 6, "relative-url")]


def test_a_connection_that_is_nowhere_is_still_unknown(tmp_path):
    found = codes(tmp_path, "kind: connection\nname: other\nbase_url: https://x.example\n")
    assert found == [("r.yaml", 6, "unknown-connection")]


def test_a_connection_with_an_invalid_name_does_not_stand_in(tmp_path):
    found = codes(tmp_path, "kind: connection\nname: [c]\nbase_url: https://x.example\n")
    assert ("r.yaml", 6, "unknown-connection") in found
