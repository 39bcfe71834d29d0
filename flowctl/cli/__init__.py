"""The `flowctl` command: parse -> service -> render (a rich table or --json).

Every module that costs start-up time (pendulum, jinja2, tinydb, textual) is
imported inside the command that needs it, so `flowctl --help` stays fast.
The commands live in one module per group; importing them registers them.
"""

from __future__ import annotations

import sys

from flowctl.cli import airflow_cmds, changes, dags, history, running, scheduler, system, tui_cmd  # noqa: F401  (registers)
from flowctl.cli.app import _err, app


def main() -> None:
    """Run the CLI: our errors are one line on stderr, never a traceback unless --debug.

    Usage errors (unknown option, bad value) are Typer's: a short message and exit 2.
    """
    from flowctl.errors import FlowctlError

    debug = "--debug" in sys.argv
    try:
        app()
    except FlowctlError as exc:
        if debug:
            raise
        _err(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _err("interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001
        if debug:
            raise
        _err(f"internal error: {type(exc).__name__}: {exc} (run again with --debug for the traceback)")
        sys.exit(1)


if __name__ == "__main__":
    main()
