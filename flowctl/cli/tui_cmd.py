"""`flowctl tui`: the live terminal interface, or (`--serve`) the same in a browser."""

from __future__ import annotations

from typing import Annotated

import typer

from flowctl.cli.app import _service, app
from flowctl.errors import UsageError


@app.command()
def tui(
    serve: Annotated[bool, typer.Option(
        "--serve", help="Serve the same interface to a browser instead, at an address with a random token.")] = False,
    host: Annotated[str, typer.Option(
        "--host", help="With --serve: the address to listen on (loopback unless you say otherwise).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(
        "--port", help="With --serve: the port; 0 picks a free one.", min=0, max=65535)] = 0,
) -> None:
    """The live terminal interface: DAGs, runs, task states, logs; trigger, clear,
    mark, pause and backfill from the keyboard. Press ? inside for the keys.

    `flowctl tui --serve` prints an address like http://127.0.0.1:PORT/TOKEN/
    to open in a browser; each tab runs its own `flowctl tui`. A request
    without the token gets 403.

    Example: `flowctl tui --serve --port 8800`"""
    service = _service()
    if serve:
        from flowctl.tui.serve import serve as serve_web

        settings = service.settings
        raise typer.Exit(serve_web(settings.home.resolve(), settings.dags_folder.resolve(), host, port))
    import os
    import sys

    if "TEXTUAL_DRIVER" not in os.environ and not sys.stdin.isatty():  # a browser tab of --serve has its own
        raise UsageError("the TUI reads keys from a terminal, and the standard input is not one; "
                         "for a browser, run flowctl tui --serve")
    from flowctl.tui.app import run_tui

    raise typer.Exit(run_tui(service))
