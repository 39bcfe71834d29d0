"""Running the scheduler as a daemon: one per home, guarded by a lock; status,
stop, and a login service (systemd user unit or launchd agent).

The lock (`<home>/scheduler.lock`) is held for the scheduler's whole life
and dies with it, so a stale pid file is never trusted: "running" means the
lock is held, and the pid file only says by whom.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any

from flowctl.errors import FlowctlError


def _lock(home: Path) -> Any:
    from filelock import FileLock

    return FileLock(str(home / "scheduler.lock"), mode=0o600)


def pid_path(home: Path) -> Path:
    return home / "scheduler.pid"


def log_path(home: Path) -> Path:
    return home / "scheduler.log"


def acquire(home: Path) -> Any:
    """Take the scheduler lock or explain who holds it."""
    from filelock import Timeout

    from flowctl.store import private_dir

    private_dir(home)
    lock = _lock(home)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        info = read_pid(home)
        who = f" (pid {info['pid']})" if info.get("pid") else ""
        raise FlowctlError(f"a scheduler is already running for {home}{who}; `flowctl scheduler stop` stops it") from None
    from flowctl.procs import process_start_time
    from flowctl.store import atomic_write

    me = {"pid": os.getpid(), "started": process_start_time(os.getpid()), "home": str(home)}
    atomic_write(pid_path(home), json.dumps(me).encode(), fsync=False)
    return lock


class StatusFile:
    """`<home>/scheduler.json`: pid, start and heartbeat, for `scheduler status`
    and for noticing downtime at the next start."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return doc if isinstance(doc, dict) else {}

    def write(self, doc: dict[str, Any]) -> None:
        from flowctl.store import atomic_write

        try:
            atomic_write(self.path, json.dumps(doc).encode(), fsync=False)
        except OSError:
            pass  # a heartbeat is a courtesy; a full disk must not stop the scheduler


def read_pid(home: Path) -> dict[str, Any]:
    """The pid file: {pid, started, home}. A bare number (an old or hand-written
    file) names a pid but cannot prove which process it is."""
    try:
        doc = json.loads(pid_path(home).read_text())
    except (OSError, ValueError):
        return {}
    if isinstance(doc, dict):
        return doc
    return {"pid": doc} if isinstance(doc, int) and not isinstance(doc, bool) else {}


def is_running(home: Path) -> bool:
    """Whether a process holds the scheduler lock. Asked through a read-only
    descriptor (flock needs no write access), so listings work on a home they
    may not write (a read-only mount, a backup)."""
    import fcntl

    try:
        fd = os.open(home / "scheduler.lock", os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing it lets go of a lock this probe took
    return False


def status(home: Path) -> dict[str, Any]:
    """`running`, `pid`, `started_at`, `heartbeat` (contract section 5)."""
    doc = StatusFile(home / "scheduler.json").read()
    running = is_running(home)
    pid = None
    if running:
        info = read_pid(home)
        pid = info.get("pid") if is_the_scheduler(info, home) else (lock_holder(home) or doc.get("pid"))
    return {
        "running": running,
        "pid": pid,
        "started_at": doc.get("started_at") if running else None,
        "heartbeat": doc.get("heartbeat"),
        "log": str(log_path(home)),
    }


def lock_holder(home: Path) -> int | None:
    """The pid of the process that holds the scheduler lock, from the kernel's
    table of locks (/proc/locks), or None where that cannot be told."""
    try:
        st = os.stat(home / "scheduler.lock")
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in lines:
        fields = line.split()
        if len(fields) > 5 and fields[1] == "FLOCK" and "->" not in fields and fields[5] == dev:
            try:
                return int(fields[4])
            except ValueError:
                return None
    return None


def stop(home: Path, timeout: float = 60.0) -> int | None:
    """SIGTERM the scheduler and wait until it has let go of its lock."""
    if not is_running(home):
        try:
            pid_path(home).unlink()  # a pid file left by a scheduler that is gone names nothing
        except OSError:
            pass
        return None
    info = read_pid(home)
    pid = info.get("pid")
    if not is_the_scheduler(info, home):
        holder = lock_holder(home)
        stale = f"the pid file named pid {pid}, which is not this home's scheduler; it was stale and is removed"
        try:
            pid_path(home).unlink()
        except OSError:
            pass
        if holder is None or holder <= 1:
            raise FlowctlError(f"{stale}; the process that holds {home / 'scheduler.lock'} cannot be told, so "
                               f"nothing was signalled: stop the scheduler by hand")
        sys.stderr.write(f"flowctl: {stale}; stopping pid {holder}, which holds the scheduler lock\n")
        pid = holder
    assert isinstance(pid, int)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return pid
    deadline = time.monotonic() + timeout
    while is_running(home):
        if time.monotonic() > deadline:
            raise FlowctlError(f"the scheduler (pid {pid}) did not stop within {timeout:g} s")
        time.sleep(0.1)
    return pid


def is_the_scheduler(info: dict[str, Any], home: Path) -> bool:
    """Whether the pid file's process is still the scheduler it recorded: the
    same pid, the same kernel start time, the same home."""
    from flowctl.procs import process_start_time

    pid = info.get("pid")
    if not isinstance(pid, int) or info.get("home") not in (None, str(home)):
        return False
    started = info.get("started")
    return started is not None and process_start_time(pid) == started


def daemonize(home: Path) -> int | None:
    """Detach (double fork, new session, output to the log). Returns the
    daemon's pid in the parent, None in the daemon."""
    from flowctl.store import private_dir

    private_dir(home)
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid > 0:
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as r:
            answer = r.read().decode()
        os.waitpid(pid, 0)
        if not answer.startswith("ok "):
            raise FlowctlError(answer.strip() or "the scheduler daemon failed to start; see its log")
        return int(answer.split()[1])
    os.close(read_fd)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.umask(0o077)
    log = os.open(log_path(home), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(devnull)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    _ready_fd[0] = write_fd
    return None


_ready_fd: list[int | None] = [None]


def report_ready(error: str | None = None) -> None:
    """Tell the waiting parent the daemon is up (or why it is not)."""
    fd = _ready_fd[0]
    if fd is None:
        return
    _ready_fd[0] = None
    os.write(fd, (f"error {error}" if error else f"ok {os.getpid()}").encode())
    os.close(fd)


# -- login service -------------------------------------------------------------------

UNIT_NAME = "flowctl-scheduler.service"
AGENT_LABEL = "dev.flowctl.engine.loop"


def _command(settings: Any) -> list[str]:
    return [sys.executable, "-m", "flowctl", "--home", str(settings.home),
            "--dags-folder", str(settings.dags_folder), "scheduler"]


#: the settings a service keeps from the shell that installs it (home and DAG folder are on its command line)
SERVICE_SETTINGS = ("FLOWCTL_WORKERS", "FLOWCTL_EXECUTOR", "FLOWCTL_DASK_ADDRESS", "FLOWCTL_TIMEZONE",
                    "FLOWCTL_DAG_FILE_TIMEOUT", "FLOWCTL_DAG_DISCOVERY_SAFE_MODE", "FLOWCTL_DAG_IGNORE_FILE_SYNTAX",
                    "FLOWCTL_MAX_MAP_LENGTH", "FLOWCTL_MAX_XCOM_BYTES", "FLOWCTL_NOTIFY_COMMAND",
                    "FLOWCTL_NOTIFY_DESKTOP", "FLOWCTL_NOTIFY_WEBHOOK")


def _environment() -> dict[str, str]:
    """The settings of the shell that installs the service (workers, time zone,
    notices): a service manager starts it without them."""
    return {k: os.environ[k] for k in SERVICE_SETTINGS if k in os.environ}


def _systemd(text: str) -> str:
    """A value as systemd reads it back: `%` starts a specifier there."""
    return text.replace("%", "%%")


def _xml(text: str) -> str:
    from xml.sax.saxutils import escape

    return escape(text)


def service_file(settings: Any) -> tuple[Path, str]:
    """The unit (Linux) or agent (macOS) that runs the scheduler at login and
    restarts it if it dies. It runs in the foreground: the service manager
    is the daemon keeper."""
    cmd = _command(settings)
    workdir = settings.config_file.parent if settings.config_file else Path.cwd()
    env = _environment()
    if sys.platform == "darwin":
        path = Path.home() / "Library" / "LaunchAgents" / f"{AGENT_LABEL}.plist"
        args = "\n".join(f"    <string>{_xml(a)}</string>" for a in cmd)
        pairs = "".join(f"\n    <key>{_xml(k)}</key><string>{_xml(v)}</string>" for k, v in env.items())
        text = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key><string>{AGENT_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
{args}
  </array>
  <key>EnvironmentVariables</key>
  <dict>{pairs}
  </dict>
  <key>WorkingDirectory</key><string>{_xml(str(workdir))}</string>
  <key>RunAtLoad</key><true/>
  <key>KeepAlive</key><true/>
  <key>StandardOutPath</key><string>{_xml(str(log_path(settings.home)))}</string>
  <key>StandardErrorPath</key><string>{_xml(str(log_path(settings.home)))}</string>
</dict>
</plist>
"""
        return path, text
    config = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    path = config / "systemd" / "user" / UNIT_NAME
    # C escapes inside the quotes: a newline in a value must not start a directive of its own
    quoted = {k: v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
              for k, v in env.items()}
    lines = "".join(f'Environment="{k}={_systemd(v)}"\n' for k, v in quoted.items())
    text = f"""[Unit]
Description=flowctl scheduler ({_systemd(str(settings.home))})
After=default.target

[Service]
Type=simple
WorkingDirectory={_systemd(str(workdir))}
{lines}ExecStart={_systemd(shlex.join(cmd))}
Restart=on-failure
RestartSec=5
KillSignal=SIGTERM
TimeoutStopSec=60

[Install]
WantedBy=default.target
"""
    return path, text


def _installed_for(path: Path) -> str | None:
    """The home whose scheduler an installed service file runs, if it names one."""
    try:
        text = path.read_text()
    except OSError:
        return None
    import re

    found = re.search(r"flowctl scheduler \((.*)\)$", text, flags=re.M)  # systemd's Description
    if found is None:
        found = re.search(r"<string>--home</string>\s*<string>(.*?)</string>", text)  # launchd's arguments
    return found.group(1).replace("%%", "%") if found else None


def _check_ours(path: Path, settings: Any, doing: str) -> None:
    """One login service per user: never replace or remove another home's."""
    from xml.sax.saxutils import unescape

    other = _installed_for(path)
    if other is not None and unescape(other) != str(settings.home):
        raise FlowctlError(f"the login service at {path} runs the scheduler of another home, {unescape(other)}; "
                           f"it is not {doing} (that home's own uninstall removes it: "
                           f"FLOWCTL_HOME={shlex.quote(unescape(other))} flowctl scheduler uninstall)")


def install(settings: Any) -> tuple[Path, list[str]]:
    """Write the service file; returns it and the commands that start it."""
    path, text = service_file(settings)
    _check_ours(path, settings, "replaced")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it may hold a webhook's secret
    os.fchmod(fd, 0o600)  # a file an earlier install left keeps its mode otherwise
    with os.fdopen(fd, "w") as out:
        out.write(text)
    if sys.platform == "darwin":
        return path, [f"launchctl load -w {path}"]
    return path, ["systemctl --user daemon-reload", f"systemctl --user enable --now {UNIT_NAME}"]


def uninstall(settings: Any) -> tuple[Path | None, list[str]]:
    path, _ = service_file(settings)
    if not path.exists():
        return None, []
    _check_ours(path, settings, "removed")
    if sys.platform == "darwin":
        hints = [f"launchctl unload -w {path}"]
    else:
        hints = [f"systemctl --user disable --now {UNIT_NAME}"]
    path.unlink()
    return path, hints
