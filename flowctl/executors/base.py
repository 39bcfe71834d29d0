"""The executor protocol the engine drives: submit jobs, poll for events, kill."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from flowctl.records import JobKey


@dataclass(frozen=True)
class Job:
    """One try (or callback) to run: the DAG file it lives in, the file's
    version (a changed file gets a fresh process), and what the runner needs."""

    key: JobKey
    fileloc: str
    version: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Started:
    key: JobKey
    pid: int
    hostname: str
    at: float | None = None  #: when the process started (epoch seconds), if the executor knows


@dataclass(frozen=True)
class Finished:
    key: JobKey
    result: dict[str, Any] | None  #: the runner's result; None when the process died
    exit_code: int | None  #: the process's exit code, or -signal
    how: str  #: "exit code 0", "killed by SIGSEGV", ...
    at: float | None = None  #: when the process ended (epoch seconds), if the executor knows
    lost: bool = False  #: the executor lost sight of the try: its process may still run
    pid: int | None = None  #: with `lost`: the try's process group, if it was known


Event = Started | Finished


class Executor(Protocol):
    name: str
    wake_fds: list[int]

    def prepare(self, fileloc: str, version: str) -> None:
        """Get ready for jobs of this DAG file, ahead of the first (the local
        executor starts importing it now, while the caller makes the run)."""

    def submit(self, job: Job) -> None:
        """Start one job; its events come back from `poll`."""

    def poll(self, timeout: float) -> list[Event]:
        """Wait up to `timeout` seconds for events; return as soon as there are some."""

    def kill(self, key: JobKey, hard: bool = False) -> None:
        """Terminate a job's whole process group (SIGTERM, or SIGKILL if hard)."""

    def running(self) -> int:
        """Jobs submitted and not yet finished."""

    def shutdown(self, grace: float = 0.0) -> list[Event]:
        """Stop; jobs still running after `grace` seconds are killed."""
