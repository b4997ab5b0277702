"""The page tests start daemons as the daemon tests do."""

from tests.daemon.conftest import daemons  # noqa: F401 -- the fixture, shared
