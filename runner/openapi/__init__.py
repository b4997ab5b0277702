"""OpenAPI descriptions of the APIs connections reach: steps proposed and checked offline.

    document.py      read one document (and the files its $refs name), validated, cached
    parse.py         bytes -> JSON values (orjson, PyYAML's C loader), with a size bound
    validity.py      the document against the OpenAPI meta-schema; $refs that cannot resolve
    positions.py     a JSON pointer into a file -> line and column, for located errors
    cache.py         parsed documents and their problems on disk, keyed by the file's bytes
    refs.py          `$ref` resolution (local and relative files; never the network)
    apis.py          the documents the loaded connections name, and which steps are checked
    operations.py    the operations of a document and which one a step's method and URL call
    schema_shape.py  a response schema as a `runner.samples.shape.Shape` for datapill checks
    responses.py     `steps.<id>` of a step without a sample: its operation's response schema
    values_check.py  a step's literal params, headers and body against the request schemas
    checks.py        what `runner validate` reports for the steps of connections with a document
    skeleton.py      `runner import openapi`: a step written from an operation

Nothing here sends a request: a `$ref` to http(s) is a located error, not a download.
"""
