"""Entry point for ``python -m derivcheck``."""

from derivcheck.cli import main

main()
