"""Fakes that implement the real protocols, for tests of the engine that run
in milliseconds: an executor that runs nothing (each try's outcome comes from
a function) driven by a fake clock. No mocks of flowctl's own parts."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flowctl.clock import FakeClock
from flowctl.executors.base import Event, Finished, Job, Started
from flowctl.records import JobKey


@dataclass
class Outcome:
    """What a try does: its result (None: the process died without one),
    how long it takes (fake seconds), or `hold` until the test ends it."""

    result: dict[str, Any] | None = field(default_factory=lambda: {"state": "success", "xcom": {}})
    seconds: float = 0.0
    hold: bool = False
    exit_code: int | None = 0


Behaviour = Callable[[Job], Outcome]


def succeed(job: Job) -> Outcome:
    return Outcome()


class InlineExecutor:
    """The executor protocol with no processes: a submitted job starts at
    once and ends after its outcome's fake seconds. `poll` with nothing to
    report moves the fake clock to the next end (or by `timeout`)."""

    name = "inline"

    def __init__(self, clock: FakeClock, behave: Behaviour = succeed) -> None:
        self.clock = clock
        self.behave = behave
        self.wake_fds: list[int] = []
        self.jobs: list[Job] = []  #: every job submitted, in order
        self.kills: list[tuple[JobKey, bool]] = []
        self.events: list[Event] = []
        self._ends: list[tuple[float, int, JobKey]] = []  #: (fake monotonic end, seq, key)
        self._running: dict[JobKey, Outcome] = {}
        self._pids = itertools.count(1000)
        self._seq = itertools.count()

    def prepare(self, fileloc: str, version: str) -> None:
        pass

    def submit(self, job: Job) -> None:
        self.jobs.append(job)
        outcome = self.behave(job)
        self._running[job.key] = outcome
        self.events.append(Started(job.key, next(self._pids), "inline"))
        if not outcome.hold:
            heapq.heappush(self._ends, (self.clock.monotonic() + outcome.seconds, next(self._seq), job.key))

    def running(self) -> int:
        return len(self._running)

    def finish(self, key: JobKey, result: dict[str, Any] | None = None, exit_code: int | None = 0) -> None:
        """End a held job now."""
        if self._running.pop(key, None) is not None:
            how = f"exit code {exit_code}" if exit_code is not None and exit_code >= 0 else "killed"
            self.events.append(Finished(key, result, exit_code, how))

    def poll(self, timeout: float) -> list[Event]:
        self._due()
        if not self.events and timeout > 0:
            step = timeout
            if self._ends:
                step = min(step, max(0.0, self._ends[0][0] - self.clock.monotonic()))
            self.clock.advance(step)
            self._due()
        events, self.events = self.events, []
        return events

    def _due(self) -> None:
        while self._ends and self._ends[0][0] <= self.clock.monotonic():
            _, _, key = heapq.heappop(self._ends)
            outcome = self._running.pop(key, None)
            if outcome is not None:
                how = "exit code 0" if outcome.result is not None else "killed by SIGSEGV"
                self.events.append(Finished(key, outcome.result, outcome.exit_code, how))

    def kill(self, key: JobKey, hard: bool = False) -> None:
        self.kills.append((key, hard))
        if self._running.pop(key, None) is not None:
            code = -9 if hard else -15
            self.events.append(Finished(key, None, code, "killed by SIGKILL" if hard else "killed by SIGTERM"))

    def shutdown(self, grace: float = 0.0) -> list[Event]:
        for key in list(self._running):
            self.kill(key, hard=True)
        events, self.events = self.events, []
        return events
