"""The terminal UI (`flowctl tui`): live monitoring and control.

Layout: `views.py` and `charts.py` turn store state into rows, cells and
drawn lines (pure, tested without Textual); `data.py` reads that state in
worker threads; `controls.py` asks, calls the service and reports;
`app.py` holds `FlowctlApp(service, clock)` and `run_tui(service)`;
`screens/` and `widgets/` render (`widgets/vim.py` the vim keys,
`widgets/log.py` a searchable, followed log); `flowctl.tcss` lays it out;
`serve.py` serves the same app to a browser behind a token. Nothing here
is imported by the CLI until `flowctl tui` runs, so other commands never
load Textual.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FlowctlApp", "run_tui"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from flowctl.tui import app

        return getattr(app, name)
    raise AttributeError(name)
