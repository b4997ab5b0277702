"""The long-running daemon: webhooks, pollers, the worker pool and the HTTP API around them."""
