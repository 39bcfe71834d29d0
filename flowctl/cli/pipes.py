"""Writing to stdout that a closed pipe cannot stop (`flowctl run X | head -1`).

The first write that fails with a broken pipe points stdout at /dev/null, so
everything after it (progress, the summary, the interpreter's last flush)
goes nowhere quietly, and the command carries its work out and exits with
its own code.
"""

from __future__ import annotations

import errno
import os
import sys

_broken = [False]


def write(text: str, stream: object = None) -> None:
    """Write and flush `text` to stdout; after a closed pipe, do nothing."""
    out = stream or sys.stdout
    if _broken[0] and out is sys.stdout:
        return
    try:
        out.write(text)  # type: ignore[attr-defined]
        out.flush()  # type: ignore[attr-defined]
    except OSError as exc:
        if isinstance(exc, BrokenPipeError) or exc.errno in (errno.EPIPE, errno.EINVAL):
            silence()
        else:
            raise


def silence() -> None:
    """From now on stdout goes to /dev/null (it was a pipe nobody reads)."""
    _broken[0] = True
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def broken() -> bool:
    return _broken[0]
