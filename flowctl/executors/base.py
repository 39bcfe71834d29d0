"""The executor protocol the scheduler loop drives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Started:
    key: str
    pid: int
    hostname: str
    at: float | None = None  #: when the process started (epoch seconds), if the executor knows


@dataclass(frozen=True)
class Finished:
    key: str
    result: dict[str, Any] | None  #: the runner's result; None when the process died
    exit_code: int | None  #: the process's exit code, or -signal
    how: str  #: "exit code 0", "signal SIGSEGV", ...
    at: float | None = None  #: when the process ended (epoch seconds), if the executor knows


Event = Started | Finished


class Executor(Protocol):
    def submit(self, key: str, fileloc: str, payload: dict[str, Any]) -> None:
        """Start one task try; its events come back from `poll`."""

    def poll(self, timeout: float) -> list[Event]:
        """Wait up to `timeout` seconds for events; return as soon as there are some."""

    def kill(self, key: str, hard: bool = False) -> None:
        """Terminate a try's whole process group (SIGTERM, or SIGKILL if hard)."""

    def running(self) -> int:
        """Tries submitted and not yet finished."""

    def shutdown(self, grace: float = 0.0) -> None:
        """Stop; tries still running after `grace` seconds are killed."""
