"""Failure notices (contract section 6): a webhook, a shell command and a
desktop notice, each optional.

`notify()` never raises and never fails the caller: every channel's failure
is written through `log` as one line ("notify: webhook URL failed: reason").
Time limits: the webhook takes at most about 11 s (5 s, a 1 s pause, 5 s),
the command 30 s (then its process group is killed), the desktop notice 10 s.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from flowctl.config import NotifySettings

WEBHOOK_TIMEOUT = 5.0
WEBHOOK_RETRY_PAUSE = 1.0
WEBHOOK_BUDGET = 12.0
COMMAND_TIMEOUT = 30.0
DESKTOP_TIMEOUT = 10.0
MESSAGE_LIMIT = 500

EVENT_FIELDS = (
    "event", "dag_id", "run_id", "task_id", "try_number", "logical_date", "error", "log",
)


def print_to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def make_event(
    event: str,
    dag_id: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    try_number: int | None = None,
    logical_date: Any = None,
    error: str | None = None,
    log: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The contract's JSON body: every field present (null when unknown).
    `logical_date` may be a datetime; it becomes ISO 8601. `extra` fields
    (e.g. `message` for "scheduler_woke") are added as given."""
    if logical_date is not None and hasattr(logical_date, "isoformat"):
        logical_date = logical_date.isoformat()
    body: dict[str, Any] = {
        "event": event,
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "try_number": try_number,
        "logical_date": logical_date,
        "error": error,
        "log": None if log is None else str(log),
    }
    body.update(extra)
    return body


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    if len(text) > MESSAGE_LIMIT:
        text = text[: MESSAGE_LIMIT - 1] + "…"
    return text


def message_for(event: Mapping[str, Any]) -> str:
    """A one-line human summary of `event`, e.g.
    "events.fetch failed on try 3 (run scheduled__...): RuntimeError: boom"."""
    kind = event.get("event")
    dag_id = event.get("dag_id") or "?"
    run_id = event.get("run_id")
    error = event.get("error")
    if kind == "task_failed":
        text = f"{dag_id}.{event.get('task_id') or '?'} failed"
        if event.get("try_number") is not None:
            text += f" on try {event['try_number']}"
        if run_id:
            text += f" (run {run_id})"
    elif kind == "run_failed":
        text = f"{dag_id} run {run_id or '?'} failed"
    elif event.get("message"):
        return _one_line(str(event["message"]))
    else:
        text = f"{kind or 'event'}"
        if event.get("dag_id"):
            text += f" in {dag_id}"
        if run_id:
            text += f" (run {run_id})"
    if error:
        text += f": {error}"
    return _one_line(text)


def notify(
    settings: NotifySettings,
    event: Mapping[str, Any],
    log: Callable[[str], None] = print_to_stderr,
) -> None:
    """Send `event` on every configured channel; log failures, never raise."""

    def safe_log(line: str) -> None:
        try:
            log(line)
        except Exception:  # noqa: BLE001 - a broken logger must not break the caller
            pass

    try:
        event = dict(event)
        message = message_for(event)
    except Exception as exc:  # noqa: BLE001
        safe_log(f"notify: cannot read the event {event!r}: {exc}")
        return
    channels: list[tuple[str, Callable[[], None]]] = []
    if settings.webhook:
        channels.append(
            (f"webhook {_redact(settings.webhook)}", lambda: send_webhook(settings.webhook, event))
        )
    if settings.command:
        channels.append(
            (f"command {settings.command!r}", lambda: run_command(settings.command, event, message))
        )
    if settings.desktop is not False:
        channels.append(("desktop", lambda: show_desktop(message, explicit=settings.desktop is True)))
    for name, send in channels:
        try:
            send()
        except Exception as exc:  # noqa: BLE001 - a channel never fails the caller
            safe_log(f"notify: {name} failed: {_reason(exc)}")


def notify_in_background(
    settings: NotifySettings,
    event: Mapping[str, Any],
    log: Callable[[str], None] = print_to_stderr,
) -> threading.Thread:
    """`notify()` in a thread, so a slow channel does not hold up the caller.
    The thread is not a daemon: the process waits for it before exiting
    (at most about 50 s); `join()` it to wait earlier."""
    thread = threading.Thread(
        target=notify, args=(settings, dict(event), log), name="flowctl-notify", daemon=False
    )
    thread.start()
    return thread


class ChannelError(Exception):
    """A channel failed; the message is the reason logged."""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ChannelError):
        return str(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _redact(url: str) -> str:
    """The URL without credentials, query or path beyond "/" (webhook URLs
    often carry a secret token in the path)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if not parts.scheme or not parts.netloc:
        return url if len(url) < 40 else url[:37] + "..."
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port is not None else host
    path = "/" if parts.path in ("", "/") else "/..."
    return f"{parts.scheme}://{netloc}{path}"


# -- webhook ------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected POST would silently turn into a GET; report it instead."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        return None


def send_webhook(url: str, event: Mapping[str, Any]) -> None:
    """POST `event` as JSON; one retry after 1 s on a connection error or a
    5xx answer. Raises ChannelError with the reason when it did not arrive."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise ChannelError(f"unsupported URL scheme {scheme!r} (use http or https)")
    body = json.dumps(dict(event), default=str).encode()
    opener = urllib.request.build_opener(_NoRedirect)
    deadline = time.monotonic() + WEBHOOK_BUDGET
    attempt = 0
    while True:
        attempt += 1
        remaining = deadline - time.monotonic()
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "flowctl-notify"},
        )
        try:
            with opener.open(request, timeout=max(0.5, min(WEBHOOK_TIMEOUT, remaining))) as resp:
                resp.read(65536)
            return
        except urllib.error.HTTPError as exc:
            reason = f"HTTP {exc.code} {exc.reason}".rstrip()
            retry = exc.code >= 500
            exc.close()
        except urllib.error.URLError as exc:
            reason = _reason_text(exc.reason)
            retry = True
        except (TimeoutError, OSError, ConnectionError) as exc:
            reason = _reason_text(exc)
            retry = True
        except Exception as exc:  # noqa: BLE001 - e.g. http.client.HTTPException
            reason = _reason(exc)
            retry = True
        left = deadline - time.monotonic() - WEBHOOK_RETRY_PAUSE
        if not retry or attempt >= 2 or left < 1.0:
            suffix = f" (after {attempt} attempts)" if attempt > 1 else ""
            raise ChannelError(reason + suffix)
        time.sleep(WEBHOOK_RETRY_PAUSE)


def _reason_text(reason: Any) -> str:
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return f"timed out after {WEBHOOK_TIMEOUT:g} s"
    if isinstance(reason, BaseException):
        return _reason(reason)
    return str(reason)


# -- command --------------------------------------------------------------------


def command_env(event: Mapping[str, Any], message: str) -> dict[str, str]:
    """The FLOWCTL_* variables for the command; missing values are ""."""

    def text(value: Any) -> str:
        return "" if value is None else str(value).replace("\0", "")

    return {
        "FLOWCTL_EVENT": text(event.get("event")),
        "FLOWCTL_DAG_ID": text(event.get("dag_id")),
        "FLOWCTL_RUN_ID": text(event.get("run_id")),
        "FLOWCTL_TASK_ID": text(event.get("task_id")),
        "FLOWCTL_MESSAGE": text(message),
        "FLOWCTL_TRY_NUMBER": text(event.get("try_number")),
        "FLOWCTL_LOGICAL_DATE": text(event.get("logical_date")),
        "FLOWCTL_ERROR": text(event.get("error")),
        "FLOWCTL_LOG": text(event.get("log")),
        "FLOWCTL_EVENT_JSON": json.dumps(dict(event), default=str),
    }


def run_command(command: str, event: Mapping[str, Any], message: str) -> None:
    """Run `command` in the shell with the FLOWCTL_* variables. Its output is
    captured (the end of it is quoted when it fails). Raises ChannelError on
    a non-zero exit or after COMMAND_TIMEOUT (its process group is killed)."""
    env = {**os.environ, **command_env(event, message)}
    proc = subprocess.Popen(
        command,
        shell=True,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=COMMAND_TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            proc.communicate(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        raise ChannelError(f"timed out after {COMMAND_TIMEOUT:g} s; killed") from None
    if proc.returncode != 0:
        tail = _one_line(output.decode(errors="replace").strip().splitlines()[-1]) if output.strip() else ""
        how = (
            f"killed by signal {-proc.returncode}"
            if proc.returncode < 0
            else f"exit code {proc.returncode}"
        )
        raise ChannelError(f"{how}: {tail}" if tail else how)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        try:
            proc.kill()
        except OSError:
            pass


# -- desktop ------------------------------------------------------------------


def desktop_command(
    message: str,
    platform: str | None = None,
    which: Callable[[str], str | None] = shutil.which,
    environ: Mapping[str, str] | None = None,
) -> list[str] | None:
    """The argv that shows `message` as a desktop notice here, or None where
    there is no notifier (Linux: notify-send with a graphical session;
    macOS: osascript)."""
    platform = sys.platform if platform is None else platform
    environ = os.environ if environ is None else environ
    if platform.startswith("linux") or "bsd" in platform:
        path = which("notify-send")
        session = any(
            environ.get(k) for k in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS")
        )
        if path and session:
            return [path, "flowctl", message]
        return None
    if platform == "darwin":
        path = which("osascript")
        if not path:
            return None
        quoted = message.replace("\\", "\\\\").replace('"', '\\"')
        return [path, "-e", f'display notification "{quoted}" with title "flowctl"']
    return None


def show_desktop(message: str, explicit: bool = False) -> None:
    """Show the notice; quietly nothing where no notifier exists (unless the
    desktop channel was asked for explicitly, which is then an error)."""
    argv = desktop_command(message)
    if argv is None:
        if explicit:
            raise ChannelError(f"no desktop notifier found on {sys.platform} (notify-send or osascript)")
        return
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=DESKTOP_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ChannelError(f"{shlex.quote(argv[0])} timed out after {DESKTOP_TIMEOUT:g} s") from None
    if done.returncode != 0:
        err = _one_line(done.stderr.decode(errors="replace").strip()) if done.stderr else ""
        raise ChannelError(f"{os.path.basename(argv[0])} exit code {done.returncode}" + (f": {err}" if err else ""))


def any_channel(settings: NotifySettings) -> bool:
    return bool(settings.webhook or settings.command or settings.desktop is not False)


def send_detached(settings: NotifySettings, event: Mapping[str, Any]) -> None:
    """`notify()` in a child interpreter: the scheduler neither waits for a slow
    channel nor runs threads beside its fork servers. The child inherits stderr,
    so a dead channel is logged where the scheduler logs."""
    import json as _json
    import sys

    if not any_channel(settings):
        return
    doc = {"settings": {"webhook": settings.webhook, "command": settings.command, "desktop": settings.desktop},
           "event": dict(event)}
    try:
        aside = _stderr_aside()
        try:
            env = {**os.environ, "FLOWCTL_NOTIFY_ASIDE": aside.name} if aside is not None else None
            proc = subprocess.Popen([sys.executable, "-m", "flowctl.notify"], stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL, stderr=aside, start_new_session=True, env=env)
        finally:
            if aside is not None:
                aside.close()
        assert proc.stdin is not None
        proc.stdin.write(_json.dumps(doc, default=str).encode())
        proc.stdin.close()
        _children.append((proc, aside.name if aside is not None else None))
        _children[:] = [(p, a) for p, a in _children if _still_running(p, a)]
    except OSError as exc:
        print_to_stderr(f"notify: could not start the notifier: {exc}")


_children: list[tuple[subprocess.Popen[bytes], str | None]] = []
"""Notifiers started by this process, each with the file its messages go to (or None: our stderr)."""


def _still_running(proc: subprocess.Popen[bytes], aside: str | None) -> bool:
    """Whether a notifier still runs; once it has ended (and is reaped), what it
    wrote to its file goes where our own messages go."""
    if proc.poll() is None:
        return True
    if aside is not None:
        try:
            with open(aside, encoding="utf-8", errors="replace") as f:
                said = f.read()
            os.unlink(aside)
        except OSError:
            said = ""
        if said:
            sys.stderr.write(said)
            sys.stderr.flush()
    return False


def _stderr_aside() -> Any:
    """A file for a notifier's messages when our stderr is a pipe: a notifier
    holding the pipe would hold up whoever reads it (`flowctl run x 2>&1 | tee`)
    until its slow channel is done. A terminal or a log file it may share."""
    import stat
    import tempfile

    try:
        mode = os.fstat(sys.stderr.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return None
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return None
    return tempfile.NamedTemporaryFile(prefix="flowctl-notify-", suffix=".log", delete=False)  # noqa: SIM115


NOTICE_WAIT = 5.0
"""How long a command that is done waits for its notices before it exits."""


def wait_for_notices(timeout: float = NOTICE_WAIT) -> None:
    """Let notices still being sent finish before a short-lived command exits;
    a slow channel (a notify command that takes its time) is left to finish in
    the background, in its own session, and said in one line: the command's
    work is done and its exit is not held up for it."""
    import time

    deadline = time.monotonic() + timeout
    for proc, _ in list(_children):
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    slow = [aside for proc, aside in _children if _still_running(proc, aside)]
    _children.clear()
    if slow:
        where = [a for a in slow if a is not None]
        print_to_stderr(f"flowctl: {len(slow)} notice(s) still being sent after {timeout:g} s; they go on in "
                        f"the background" + (f" (what they say goes to {', '.join(where)})" if where else ""))


if __name__ == "__main__":
    import json as _json
    import sys

    _doc = _json.loads(sys.stdin.read())
    notify(NotifySettings(**_doc["settings"]), _doc["event"])
    _aside = os.environ.get("FLOWCTL_NOTIFY_ASIDE")
    if _aside and os.path.exists(_aside) and os.path.getsize(_aside) == 0:
        os.unlink(_aside)  # nothing was said: no file left behind (one with a complaint stays, as we said)
