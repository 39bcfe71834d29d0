"""Failure notices: webhook, command and desktop channels (contract section 6)."""

from __future__ import annotations

import json
import shlex
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from flowctl import notify as notify_mod
from flowctl.config import NotifySettings
from flowctl.notify import desktop_command, make_event, message_for, notify

pytestmark = pytest.mark.timeout(30)

EVENT = {
    "event": "task_failed",
    "dag_id": "events",
    "run_id": "scheduled__2026-01-02T00:00:00+00:00",
    "task_id": "fetch",
    "try_number": 3,
    "logical_date": "2026-01-02T00:00:00+00:00",
    "error": "RuntimeError: upstream API returned 503",
    "log": "/tmp/home/logs/events/fetch/3.log",
}


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


class Server:
    """An HTTP server on 127.0.0.1 that records requests and answers with the
    given status codes in turn (the last one repeats)."""

    def __init__(self, statuses=(200,)):
        self.requests: list[dict] = []
        self.statuses = list(statuses)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                outer.requests.append(
                    {"headers": dict(self.headers), "body": self.rfile.read(length), "path": self.path}
                )
                index = min(len(outer.requests), len(outer.statuses)) - 1
                self.send_response(outer.statuses[index])
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- webhook ------------------------------------------------------------------------


def test_webhook_receives_exactly_the_json_body():
    """The webhook gets one POST whose body is the event as JSON, with
    Content-Type application/json."""
    lines: list[str] = []
    with Server() as server:
        notify(NotifySettings(webhook=server.url, desktop=False), EVENT, log=lines.append)
    assert len(server.requests) == 1
    request = server.requests[0]
    assert json.loads(request["body"]) == EVENT
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["path"] == "/hook"
    assert lines == []


def test_webhook_retries_once_after_a_5xx():
    """A 5xx answer is retried once after about 1 s; a 200 then ends it:
    exactly 2 requests and nothing logged."""
    lines: list[str] = []
    with Server(statuses=(500, 200)) as server:
        started = time.monotonic()
        notify(NotifySettings(webhook=server.url, desktop=False), EVENT, log=lines.append)
        elapsed = time.monotonic() - started
    assert len(server.requests) == 2
    assert elapsed >= 0.9
    assert lines == []


def test_webhook_gives_up_after_one_retry():
    """Two 5xx answers: exactly 2 requests, then the failure is logged."""
    lines: list[str] = []
    with Server(statuses=(503,)) as server:
        notify(NotifySettings(webhook=server.url, desktop=False), EVENT, log=lines.append)
    assert len(server.requests) == 2
    assert len(lines) == 1 and "HTTP 503" in lines[0] and lines[0].startswith("notify: webhook ")


def test_webhook_4xx_is_not_retried():
    """A 4xx answer is the receiver refusing the body: logged, not retried."""
    lines: list[str] = []
    with Server(statuses=(404,)) as server:
        notify(NotifySettings(webhook=server.url, desktop=False), EVENT, log=lines.append)
    assert len(server.requests) == 1
    assert "HTTP 404" in lines[0]


def test_webhook_to_a_closed_port_is_logged_not_raised():
    """A webhook nobody listens on is logged as
    "notify: webhook URL failed: reason" and returns within ~12 s."""
    port = closed_port()
    url = f"http://127.0.0.1:{port}/"
    lines: list[str] = []
    started = time.monotonic()
    notify(NotifySettings(webhook=url, desktop=False), EVENT, log=lines.append)
    assert time.monotonic() - started < 12.5
    assert len(lines) == 1
    assert lines[0].startswith(f"notify: webhook http://127.0.0.1:{port}/ failed: ")


def test_webhook_url_secrets_are_not_logged():
    """The logged webhook URL drops its path, query and credentials (they
    often hold a token)."""
    port = closed_port()
    url = f"http://user:pw@127.0.0.1:{port}/services/T0/SECRET?token=abc"
    lines: list[str] = []
    notify(NotifySettings(webhook=url, desktop=False), EVENT, log=lines.append)
    assert "SECRET" not in lines[0] and "pw" not in lines[0] and "abc" not in lines[0]
    assert f"127.0.0.1:{port}" in lines[0]


def test_non_http_webhook_is_refused():
    """Only http and https URLs are posted to; file: and the like are logged."""
    lines: list[str] = []
    notify(NotifySettings(webhook="file:///etc/passwd", desktop=False), EVENT, log=lines.append)
    assert "unsupported URL scheme" in lines[0]


# --- command --------------------------------------------------------------------


def read_env_file(path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        values[key] = value
    return values


def test_command_receives_the_flowctl_variables(tmp_path):
    """The command runs in the shell with FLOWCTL_EVENT, FLOWCTL_DAG_ID,
    FLOWCTL_RUN_ID, FLOWCTL_TASK_ID and a one-line FLOWCTL_MESSAGE."""
    out = tmp_path / "env.txt"
    lines: list[str] = []
    settings = NotifySettings(command=f"env | grep FLOWCTL_ > {shlex.quote(str(out))}", desktop=False)
    notify(settings, EVENT, log=lines.append)
    assert lines == []
    env = read_env_file(out)
    assert env["FLOWCTL_EVENT"] == "task_failed"
    assert env["FLOWCTL_DAG_ID"] == "events"
    assert env["FLOWCTL_RUN_ID"] == EVENT["run_id"]
    assert env["FLOWCTL_TASK_ID"] == "fetch"
    assert env["FLOWCTL_MESSAGE"] == (
        "events.fetch failed on try 3 (run scheduled__2026-01-02T00:00:00+00:00): "
        "RuntimeError: upstream API returned 503"
    )


def test_command_missing_values_are_empty_strings(tmp_path):
    """For a run_failed event the task variables are set, as empty strings."""
    out = tmp_path / "env.txt"
    event = make_event("run_failed", dag_id="events", run_id="manual__x", error="1 task failed")
    notify(
        NotifySettings(command=f"env | grep FLOWCTL_ > {shlex.quote(str(out))}", desktop=False),
        event,
        log=print,
    )
    env = read_env_file(out)
    assert env["FLOWCTL_TASK_ID"] == "" and env["FLOWCTL_EVENT"] == "run_failed"
    assert env["FLOWCTL_MESSAGE"] == "events run manual__x failed: 1 task failed"


def test_missing_command_is_logged_not_raised():
    """A command that does not exist is logged with its exit code, never raised."""
    lines: list[str] = []
    notify(
        NotifySettings(command="/nonexistent/flowctl-no-such-notifier", desktop=False),
        EVENT,
        log=lines.append,
    )
    assert len(lines) == 1
    assert lines[0].startswith("notify: command ") and "failed: exit code 127" in lines[0]


def test_every_channel_runs_even_when_one_fails(tmp_path):
    """A failing webhook does not stop the command channel."""
    out = tmp_path / "ran"
    lines: list[str] = []
    settings = NotifySettings(
        webhook=f"http://127.0.0.1:{closed_port()}/",
        command=f"touch {shlex.quote(str(out))}",
        desktop=False,
    )
    notify(settings, EVENT, log=lines.append)
    assert out.exists() and len(lines) == 1


# --- desktop and messages -------------------------------------------------------------


def test_desktop_disabled_sends_nothing(monkeypatch):
    """desktop=False never looks for or runs a notifier, even where one exists."""
    calls = []
    monkeypatch.setattr(notify_mod.shutil, "which", lambda name: calls.append(name) or f"/usr/bin/{name}")
    monkeypatch.setattr(notify_mod.subprocess, "run", lambda *a, **k: calls.append(a))
    lines: list[str] = []
    notify(NotifySettings(desktop=False), EVENT, log=lines.append)
    assert calls == [] and lines == []


def test_desktop_default_is_quiet_without_a_notifier(monkeypatch):
    """desktop=None (the default) is skipped quietly where no notifier exists."""
    monkeypatch.setattr(notify_mod, "desktop_command", lambda message: None)
    lines: list[str] = []
    notify(NotifySettings(), EVENT, log=lines.append)
    assert lines == []


def test_desktop_command_per_platform():
    """Linux uses notify-send (with a graphical session), macOS osascript;
    elsewhere, or with no notifier, there is none."""
    which = {"notify-send": "/usr/bin/notify-send", "osascript": "/usr/bin/osascript"}.get
    assert desktop_command("boom", "linux", which, {"DISPLAY": ":0"}) == [
        "/usr/bin/notify-send", "flowctl", "boom",
    ]
    assert desktop_command("boom", "linux", which, {}) is None
    assert desktop_command("boom", "linux", lambda n: None, {"DISPLAY": ":0"}) is None
    mac = desktop_command('say "hi"', "darwin", which, {})
    assert mac is not None and mac[:2] == ["/usr/bin/osascript", "-e"]
    assert mac[2] == 'display notification "say \\"hi\\"" with title "flowctl"'
    assert desktop_command("boom", "win32", which, {}) is None


def test_message_for_events():
    """message_for gives a one-line summary; scheduler_woke uses its message."""
    assert message_for(EVENT).startswith("events.fetch failed on try 3 (run scheduled__")
    assert message_for({"event": "scheduler_woke", "message": "missed 2 runs\nof events"}) == (
        "missed 2 runs of events"
    )
    body = make_event("run_failed", dag_id="d", run_id="r")
    assert set(body) >= {"event", "dag_id", "run_id", "task_id", "try_number", "logical_date", "error", "log"}
    assert body["task_id"] is None and body["try_number"] is None


def test_a_broken_logger_does_not_raise():
    """Even a log function that raises cannot make notify raise."""

    def bad_log(line: str) -> None:
        raise RuntimeError("log broken")

    notify(NotifySettings(command="exit 3", desktop=False), EVENT, log=bad_log)
