"""Conformance suite ``iec104-server`` (docstring written below)."""

from __future__ import annotations

__all__: list[str] = []
