"""``python -m wireproof``: the same as the ``wireproof`` command."""

from __future__ import annotations

from wireproof.harness.cli import main

raise SystemExit(main())
