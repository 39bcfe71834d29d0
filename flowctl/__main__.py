"""`python -m flowctl` is the `flowctl` command."""

from flowctl.cli import main

main()
