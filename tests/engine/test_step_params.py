"""A step's `params` replace the connection's of the same name, as step headers do."""

from __future__ import annotations

from runner.engine.messages import query_pairs
from tests.support.documents import api_documents


def docs(sink_url: str, step_params: str, connection: str) -> str:
    step = f"  - id: q\n    request: {{connection: api, url: /q, params: {step_params}}}"
    return api_documents(sink_url, step, connection)


async def test_a_step_param_replaces_the_connections_param_of_that_name(
    sink, make_project, run_recipe
):
    project = make_project(docs(sink.url, "{cp: over, tags: [x, y], own: 1}",
                                "params: {cp: 1, kept: k, tags: a}"))
    job = await run_recipe(project, "r")
    assert job.status == "succeeded", job.error
    sent = sink.recorder.requests[0]
    assert sent.query.getall("cp") == ["over"]
    assert sent.query.getall("tags") == ["x", "y"]
    assert list(sent.query.items()) == [("kept", "k"), ("cp", "over"), ("tags", "x"),
                                        ("tags", "y"), ("own", "1")]


async def test_a_step_param_set_to_null_removes_the_connections_one(
    sink, make_project, run_recipe
):
    project = make_project(docs(sink.url, "{cp: null}", "params: {cp: 1, kept: k}"))
    job = await run_recipe(project, "r")
    assert job.status == "succeeded", job.error
    assert list(sink.recorder.requests[0].query.items()) == [("kept", "k")]


async def test_auth_params_replace_step_params_of_the_same_name(
    sink, make_project, run_recipe
):
    connection = 'auth: {type: query, params: {key: "{{ secrets.KEY }}"}}\nparams: {key: conn}'
    project = make_project(docs(sink.url, "{key: step, other: o}", connection))
    job = await run_recipe(project, "r", env={"KEY": "key-value-1"})
    assert job.status == "succeeded", job.error
    assert list(sink.recorder.requests[0].query.items()) == [("other", "o"), ("key", "key-value-1")]


def test_names_are_compared_exactly_and_a_single_group_is_unchanged() -> None:
    assert query_pairs({"Page": 1}, {"page": 2}) == [("Page", "1"), ("page", "2")]
    assert query_pairs({"a": [1, None, 2], "b": None, "c": True}) == [
        ("a", "1"), ("a", "2"), ("c", "true")
    ]
    assert query_pairs(None, {"a": 1}) == [("a", "1")]
