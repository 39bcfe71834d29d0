"""`flowctl tui --serve`: the same terminal UI in a browser, through textual-serve.

Each browser tab that opens the page gets its own `flowctl tui` process,
driven over a websocket; there is no second UI to keep in step.

Who may use it: the server listens on loopback unless told otherwise, and
every URL it answers starts with a random token (`http://127.0.0.1:PORT/
<token>/`, printed at start): the page, its scripts and the websocket. Any
other path gets 403, and so does a websocket opened from a page of another
origin. The token is a path segment rather than a query parameter because
the page's script appends its own `?width=...` to the websocket URL and
fetches its files by relative path, so the one prefix covers everything.

textual-serve's own page pulls a font from the internet; ours serves the
font textual-serve ships, so the page works offline.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import secrets
import shlex
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.server import Server

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="{static}css/xterm.css">
<link rel="preload" href="{static}fonts/RobotoMono-VariableFont_wght.ttf" as="font" type="font/ttf" crossorigin>
<style>
@font-face {{ font-family: "Roboto Mono"; src: url("{static}fonts/RobotoMono-VariableFont_wght.ttf"); }}
body {{ background: #0c181f; margin: 0; }}
.closed {{ display: none; position: absolute; inset: 0; align-items: center; justify-content: center;
          color: #eee; font-family: "Roboto Mono", monospace; z-index: 10; background: #0c181fdd; }}
body.-closed .closed {{ display: flex; }}
.closed a {{ color: #ac5af4; margin-left: 1em; }}
</style>
<script src="{static}js/textual.js"></script>
</head>
<body>
<div class="closed">The session ended.<a href="">Open it again</a></div>
<div id="terminal" class="textual-terminal" data-session-websocket-url="{ws}" data-font-size="{font_size}"></div>
</body>
</html>
"""

FORBIDDEN = "403: forbidden. Open the address `flowctl tui --serve` printed: it carries the token.\n"


def new_token() -> str:
    return secrets.token_urlsafe(24)


def tui_command(home: Path, dags_folder: Path) -> str:
    """The command each browser session runs: this Python, this home, these DAGs."""
    return shlex.join([sys.executable, "-m", "flowctl", "--home", str(home), "--dags-folder", str(dags_folder),
                       "tui"])


class TokenServer(Server):
    """textual-serve's server behind a token in the path and a same-origin websocket."""

    def __init__(self, command: str, host: str, port: int, token: str, title: str = "flowctl") -> None:
        super().__init__(command, host=host, port=port, title=title)
        self.token = token
        self.prefix = f"/{token}"
        self.url: str | None = None  #: set once the server listens
        self._stop: asyncio.Event | None = None

    # -- the guard ---------------------------------------------------------------------

    def allowed(self, request: web.Request) -> bool:
        """The path starts with the token; a websocket comes from this server's own page."""
        first = request.path.split("/", 2)[1] if request.path.startswith("/") else ""
        if not hmac.compare_digest(first.encode(), self.token.encode()):
            return False
        if request.path == f"{self.prefix}/ws":
            origin = request.headers.get("Origin")
            if origin is not None and urlsplit(origin).netloc != request.host:
                return False
        return True

    @web.middleware
    async def guard(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if not self.allowed(request):
            return web.Response(status=403, text=FORBIDDEN)
        return await handler(request)

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard])
        p = self.prefix
        app.add_routes([
            web.get(p, self.handle_bare),
            web.get(f"{p}/", self.handle_page),
            web.get(f"{p}/ws", self.handle_websocket),
            web.get(f"{p}/download/{{key}}", self.handle_download),
            web.static(f"{p}/static", self.statics_path, show_index=False),
        ])
        return app

    async def handle_bare(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{self.prefix}/")

    async def handle_page(self, request: web.Request) -> web.Response:
        """The page: xterm.js and textual-serve's script, pointed at our websocket."""
        base = f"{request.scheme}://{request.host}{self.prefix}/"
        ws = ("wss" if request.scheme == "https" else "ws") + base[len(request.scheme):] + "ws"
        size = request.query.get("fontsize", "16")
        page = PAGE.format(title=html.escape(self.title), static=html.escape(base + "static/"),
                           ws=html.escape(ws), font_size=int(size) if size.isdigit() else 16)
        return web.Response(text=page, content_type="text/html",
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    # -- running ------------------------------------------------------------------------

    def serve(self, debug: bool = False, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve until SIGINT or SIGTERM; `on_ready(url)` once it listens."""
        self.debug = debug
        asyncio.run(self._serve(on_ready))

    async def _serve(self, on_ready: Callable[[str], None] | None) -> None:
        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop.set)
        runner = web.AppRunner(await self._make_app(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
            host, port = runner.addresses[0][:2]
            shown = f"[{host}]" if ":" in host else host
            self.url = f"http://{shown}:{port}{self.prefix}/"
            if on_ready is not None:
                on_ready(self.url)
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(home: Path, dags_folder: Path, host: str = "127.0.0.1", port: int = 0,
          out: Callable[[str], None] = print) -> int:
    """`flowctl tui --serve`: print the address with its token, serve until Ctrl+C."""
    server = TokenServer(tui_command(home, dags_folder), host, port, new_token())

    def ready(url: str) -> None:
        out(f"flowctl tui in a browser: {url}")
        if not is_loopback(host):
            out(f"warning: listening on {host}, not on loopback: anyone who has the address can use flowctl here")
        out("Each browser tab runs its own `flowctl tui`. Ctrl+C stops the server.")
        sys.stdout.flush()

    try:
        server.serve(on_ready=ready)
    except OSError as exc:
        from flowctl.errors import FlowctlError

        raise FlowctlError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    return 0
