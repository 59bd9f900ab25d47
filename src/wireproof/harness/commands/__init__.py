"""Subcommands of the ``wireproof`` CLI: one module each, ``add_arguments(parser)`` and ``run(args) -> int``.

The table of commands is :data:`wireproof.harness.cli.COMMANDS`.
"""
