"""runner: a declarative integration runner for integrations kept in git."""

__version__ = "0.1.0"
