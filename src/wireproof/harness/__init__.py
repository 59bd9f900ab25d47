"""Harness: everything impure — transports, reference devices, replay, the pytest plugin, reports, the CLI."""
