"""The exit codes every ``wireproof`` command uses, in one place.

A script or a CI job branches on these, so each has one meaning across
commands. The order matters when more than one applies: a definite failure
found in the part that was read (``FAIL``) is reported over a damaged input
(``INCOMPLETE``), because a fault seen is a fault; but a run never exits
``OK`` unless it read and judged everything it was given. A crash of
wireproof itself is never ``FAIL``: it would read as the device's fault.

=====  ==========================================================================
 0     ``OK``: everything was read and passed
 1     ``FAIL``: a verdict against the device, capture or history
 2     ``USAGE``: bad arguments, or an input that could not be read at all
 3     ``INCOMPLETE``: no verdict for all of the input (damaged after some
       valid data, undecided check, interrupted before the end of the run)
 130   ``INTERRUPTED``: stopped by Ctrl-C (128 + SIGINT, as shells do)
=====  ==========================================================================
"""

from __future__ import annotations

from typing import Final

__all__ = ["FAIL", "INCOMPLETE", "INTERRUPTED", "OK", "USAGE"]

OK: Final = 0
FAIL: Final = 1
USAGE: Final = 2
INCOMPLETE: Final = 3
INTERRUPTED: Final = 130
