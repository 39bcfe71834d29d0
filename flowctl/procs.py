"""Processes as the engine knows them: who owns a run, whether that process
still lives, and whether a try's process group is gone.

A pid alone is not an identity (pids are reused), so an owner is a pid plus
the kernel's start time of that process, plus the host.
"""

from __future__ import annotations

import os
import signal
import socket
from typing import Any

_HOST = socket.gethostname()


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (Linux clock ticks), or None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode()
        return raw.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_identity(kind: str | None = None) -> dict[str, Any]:
    """This process, as a run owner: pid plus its start time, so a reused pid
    is not mistaken for it; `kind` says what it is (scheduler, run, backfill)."""
    me: dict[str, Any] = {"pid": os.getpid(), "started": process_start_time(os.getpid()), "hostname": _HOST}
    if kind:
        me["kind"] = kind
    return me


def same_owner(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    if not a or not b:
        return False
    return (a.get("pid"), a.get("started"), a.get("hostname")) == (b.get("pid"), b.get("started"), b.get("hostname"))


def owner_alive(owner: dict[str, Any] | None) -> bool:
    """Whether the process an owner record names still runs."""
    if not owner:
        return False
    if owner.get("hostname") not in (None, _HOST):
        return True  # another machine's process: we cannot tell, so leave it be
    pid = owner.get("pid")
    if not isinstance(pid, int) or not pid_alive(pid):
        return False
    started = owner.get("started")
    return started is None or process_start_time(pid) in (None, started)


def pid_alive(pid: int) -> bool:
    """Whether a process of this id exists (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_gone(pgid: int | None) -> bool:
    """True when no process of the group (a try's tree) can run any more:
    none is left, or only zombies are (their reaper may be slow)."""
    if not pgid or pgid <= 1:
        return True
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        entries = os.listdir("/proc")
    except OSError:
        return False
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            return False
    return True


def kill_group(pgid: int | None, hard: bool = True) -> None:
    if not pgid or pgid <= 1:
        return
    try:
        os.killpg(pgid, signal.SIGKILL if hard else signal.SIGTERM)
    except OSError:
        pass


_libc: list[Any] = []


def load_prctl() -> None:
    """Load libc once (a fork server does it before forking tries)."""
    if not _libc:
        try:
            import ctypes

            _libc.append(ctypes.CDLL(None, use_errno=True))
        except (OSError, ImportError):
            _libc.append(None)


def die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux), so
    a try never outlives its fork server. `parent` is the pid the parent had
    before forking: if it is already gone, exit now."""
    load_prctl()
    libc = _libc[0]
    if libc is not None:
        try:
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (AttributeError, OSError):
            pass
    if os.getppid() != parent:
        os._exit(1)
