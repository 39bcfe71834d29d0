"""airflow.hooks.subprocess: run a command, keep its last output line."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from typing import Any, NamedTuple

from airflow.hooks.base import BaseHook


class SubprocessResult(NamedTuple):
    exit_code: int
    output: str


class SubprocessHook(BaseHook):
    def run_command(self, command: list[str], env: dict[str, str] | None = None,
                    output_encoding: str = "utf-8", cwd: str | None = None, **_: Any) -> SubprocessResult:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=env if env is not None else dict(os.environ), cwd=cwd)
        line = ""
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode(output_encoding, errors="replace").rstrip()
            print(line, flush=True)
        return SubprocessResult(exit_code=proc.wait(), output=line)

    def send_sigterm(self) -> None:
        pass


def working_directory(cwd: str | None = None) -> Iterable[str]:
    import contextlib
    import tempfile

    @contextlib.contextmanager
    def _cm():
        if cwd is not None:
            yield cwd
        else:
            with tempfile.TemporaryDirectory(prefix="airflowtmp") as tmp:
                yield tmp

    return _cm()

__all__ = ['SubprocessHook', 'SubprocessResult', 'working_directory']
