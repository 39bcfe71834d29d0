"""`flowctl tui`: the live terminal interface."""

from __future__ import annotations

import typer

from flowctl.cli.app import _service, app


@app.command()
def tui() -> None:
    """The live terminal interface: DAGs, runs, task states, logs; trigger, clear,
    mark, pause and backfill from the keyboard. Press ? inside for the keys."""
    from flowctl.tui.app import run_tui

    raise typer.Exit(run_tui(_service()))
