"""`flowctl tui --serve`: the same app in a browser, on loopback, behind a
token in the URL; checked over HTTP and in a real headless Chromium."""

from __future__ import annotations

import os
import re
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tui_support import ETL_DAG, FLAKY_DAG, make_service, put_run

from flowctl.tui.serve import is_loopback, tui_command

pytestmark = pytest.mark.timeout(120)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]


class Served:
    """`flowctl tui --serve` in its own process; the address it printed."""

    def __init__(self, flow, *extra: str) -> None:
        self.proc = flow.popen("tui", "--serve", *extra)
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if "http://" in line or self.proc.poll() is not None:
                break
        match = re.search(r"http://\S+", line)
        assert match, f"no address printed: {line!r} {self.proc.stderr.read() if self.proc.poll() is not None else ''}"
        self.url = match.group(0)
        self.base = re.match(r"http://[^/]+", self.url).group(0)
        self.token = self.url.rstrip("/").rsplit("/", 1)[1]

    def stop(self) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        return self.proc.wait(timeout=30)


@pytest.fixture
def world(flow):
    """etl with a finished run, flaky with a failed one; no real processes."""
    flow.write_dag("etl.py", ETL_DAG)
    flow.write_dag("flaky.py", FLAKY_DAG)
    service = make_service(flow)
    day = datetime(2026, 3, 1, tzinfo=UTC)
    put_run(service, "etl", day, "success",
            {t: {"state": "success", "start": day + timedelta(days=1), "end": day + timedelta(days=1, minutes=1)}
             for t in ("extract", "transform", "load")})
    return flow


@pytest.fixture
def served(world):
    server = Served(world)
    yield server
    server.stop()


def status(url: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


WEBSOCKET = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
             "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


def test_serve_listens_on_loopback_behind_a_random_token(served, world):
    """The printed address is on 127.0.0.1 with a long random token; without
    it, or with another, the page, its files and the websocket answer 403;
    with it the page is served and points its websocket under the token."""
    assert served.url.startswith("http://127.0.0.1:") and served.url.endswith("/")
    assert len(served.token) >= 32
    wrong = served.token[:-1] + ("A" if served.token[-1] != "A" else "B")
    for path in ("/", "/ws", "/static/js/textual.js", "/download/x", f"/{wrong}/", f"/{wrong}/ws",
                 f"/{served.token[:8]}/"):
        assert status(served.base + path) == 403, path
    assert status(served.base + "/ws", WEBSOCKET) == 403
    assert status(f"{served.base}/{wrong}/ws", WEBSOCKET) == 403
    with urllib.request.urlopen(served.url, timeout=10) as response:
        page = response.read().decode()
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert f'data-session-websocket-url="ws://{served.base[7:]}/{served.token}/ws"' in page
    assert "googleapis" not in page  # the font comes from this server: the page works offline
    assert status(f"{served.url}static/js/textual.js") == 200
    # a websocket opened by a page of another site is refused, even with the token
    assert status(f"{served.url}ws", {**WEBSOCKET, "Origin": "http://evil.example"}) == 403


def test_serve_stops_on_sigterm(world):
    """SIGTERM (or Ctrl+C) stops the server with exit code 0."""
    server = Served(world, "--port", "0")
    assert server.stop() == 0


def test_serve_on_a_port_you_choose_and_one_that_is_taken(world):
    """--port N serves on N; a port another program holds is one line that says
    so, exit 1, no traceback."""
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        holder.listen()
        res = world("tui", "--serve", "--port", str(port))
        assert res.code == 1 and "Traceback" not in res.err
        [line] = res.err.strip().splitlines()
        assert line.startswith(f"flowctl: cannot serve on 127.0.0.1:{port}: ") and "in use" in line, line
    server = Served(world, "--port", str(port))
    try:
        assert server.base == f"http://127.0.0.1:{port}"
    finally:
        assert server.stop() == 0


def test_loopback_addresses():
    """Anything but loopback gets a warning when served."""
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.10", "::", "example.com"))


def test_each_session_runs_flowctl_tui_on_this_home(tmp_path):
    """Each browser tab runs this Python's `flowctl tui` on the same home and
    DAG folder, quoted for the shell."""
    home, dags = tmp_path / "my home", tmp_path / "dags"
    command = tui_command(home, dags)
    assert command.startswith(sys.executable) and command.endswith(" tui")
    assert f"--home '{home}'" in command and f"--dags-folder {dags}" in command


# -- in a real browser -----------------------------------------------------------------------------


def _browser_or_skip():
    """Chromium and Playwright are in CI (.ci/run installs Chromium); elsewhere
    their absence skips the browser test rather than fail it."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    return sync_playwright


def test_in_chromium_the_page_shows_the_dag_table_and_a_key_opens_a_run(served, tmp_path):
    """In headless Chromium the page draws the DAG table; keys typed into the
    page (j, →, j, Enter in the tree) open etl's run, whose header says its state."""
    sync_playwright = _browser_or_skip()
    received: list[bytes] = []

    def screen_text() -> str:
        raw = b"".join(received).decode("utf-8", "replace")
        return re.sub(r"\x1b\[[0-9;?<>$]*[A-Za-z]", "", raw)

    def wait_for(page, *texts: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not all(t in screen_text() for t in texts):
            assert time.monotonic() < deadline, f"{texts} not on the page: {screen_text()[:3000]!r}"
            page.wait_for_timeout(50)

    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            tempfile.mkdtemp(dir=tmp_path, prefix="chromium-"), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 1400, "height": 800})
        try:
            page = browser.new_page()
            page.on("websocket", lambda ws: ws.on(
                "framereceived", lambda data: received.append(data if isinstance(data, bytes) else data.encode())))
            page.goto(served.url)
            wait_for(page, "last run", "etl", "flaky", "success 03-01 00:00", "no scheduler")
            page.focus(".xterm-helper-textarea")  # the keyboard goes to the terminal (a click would reach the app)
            page.dispatch_event(".xterm-screen", "focus")  # a headless window never gets focus by itself
            wait_for(page, "q Quit")  # the app knows it has focus: the footer shows its keys
            page.screenshot(path=str(tmp_path / "main.png"))
            received.clear()
            for key in ("j", "ArrowRight", "j", "Enter"):
                page.keyboard.press(key)
                page.wait_for_timeout(150)
            wait_for(page, "1 Grid", "run scheduled__2026-03-01T00:00:00+00:00", "success")
            page.screenshot(path=str(tmp_path / "run.png"))
        finally:
            browser.close()
