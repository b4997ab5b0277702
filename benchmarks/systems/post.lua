-- wrk: POST a small JSON webhook, as a web form or a SaaS would.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"id": 42, "name": "Ada Lovelace", "amount": 12.5, "tags": ["lead", "web"]}'
