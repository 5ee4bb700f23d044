"""Subcommands of ``kmskit``: one module per subject, each with ``register(subparsers, common)``."""
