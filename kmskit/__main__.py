"""``python -m kmskit``."""

from kmskit.cli import main

raise SystemExit(main())
