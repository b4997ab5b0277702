"""Turning requests written elsewhere (a cURL command) into runner steps; nothing is ever sent."""
