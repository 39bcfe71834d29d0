"""The one driver: it owns the executor, the clock, the signals and the
shutdown, and turns the loop (`loop.py`) until its scope is done.

`flowctl run`, `flowctl backfill` and `flowctl scheduler` are the same
driver with a different scope (`scopes.py`): one run, a backfill's runs, or
everything due. What a person sees comes out through `announce`; an
announcement that cannot be written (a closed pipe) never stops the work.

Signals: the first Ctrl-C (or SIGTERM) starts nothing new and says at once
what it waits for; running tries finish (within `grace` seconds, if given).
A second one kills them; they run again later (an interruption, not a failure).
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from flowctl.clock import Clock
from flowctl.engine.loop import Announce, Loop
from flowctl.executors.base import Event
from flowctl.records import RunKey
from flowctl.specs import DagSpec
from flowctl.store import Store


class Scope(Protocol):
    """What a driver carries out, and when it is done."""

    def runs(self) -> set[RunKey] | None:
        """The runs to carry out (None: every active run without a live owner)."""

    def before(self, loop: Loop, now: Any) -> float | None:
        """Work of the scope itself before a tick (create runs, say); seconds
        until it wants another tick, if it does."""

    def done(self, loop: Loop) -> bool:
        """Whether the driver may stop."""

    def exit_code(self, loop: Loop) -> int:
        """What the command exits with."""


class SafeAnnounce:
    """Passes announcements on until writing one fails (a closed pipe, a full
    disk for a log); after that it drops them, so the work goes on."""

    def __init__(self, target: Announce) -> None:
        self.target = target
        self.broken = False

    def __call__(self, kind: str, info: dict[str, Any]) -> None:
        if self.broken:
            return
        try:
            self.target(kind, info)
        except (OSError, ValueError):  # EPIPE, ENOSPC, a closed stream
            self.broken = True


def _running_names(running: list[Any]) -> tuple[str, str]:
    """The running tries as the stop line names them: a task once, with how many
    runs (or mapped instances) it runs in, at most five tasks."""
    tries: Counter[str] = Counter()
    runs: dict[str, set[str]] = {}
    for k in running:
        name = f"{k.dag_id}.{k.task_id}"
        tries[name] += 1
        runs.setdefault(name, set()).add(k.run_id)
    shown = []
    for name, n in list(tries.items())[:5]:
        in_runs = len(runs[name])
        shown.append(name + (f" (in {in_runs} runs)" if in_runs > 1 else f" ({n} instances)" if n > 1 else ""))
    return ", ".join(shown), (f" and {len(tries) - 5} more" if len(tries) > 5 else "")


class Driver:
    def __init__(
        self,
        *,
        store: Store,
        executor: Any,
        specs: Callable[[], Mapping[str, DagSpec]],
        workers: int,
        owner: dict[str, Any],
        clock: Clock,
        scope: Scope,
        announce: Announce | None = None,
        notify: Callable[[dict[str, Any]], None] | None = None,
        grace: float | None = None,
        max_sleep: float = 0.5,
        payload_extra: Any = None,
        max_map_length: int = 1024,
    ) -> None:
        self.executor = executor
        self.clock = clock
        self.scope = scope
        self.grace = grace
        self.say = SafeAnnounce(announce or (lambda kind, info: None))
        self.loop = Loop(store=store, executor=executor, specs=specs, workers=workers, owner=owner, clock=clock,
                         scope=scope.runs(), announce=self.say, notify=notify, max_sleep=max_sleep,
                         payload_extra=payload_extra, max_map_length=max_map_length)
        self._signals = 0
        self._stop_deadline: float | None = None
        self.interrupted = False

    # -- signals -------------------------------------------------------------------------

    def on_signal(self, signum: int, frame: Any) -> None:
        """Only sets flags and says what happens; the loop acts on its next tick."""
        self._signals += 1
        loop = self.loop
        if self._signals == 1:
            loop.stop()
            self.interrupted = True
            running = loop.running_tries()
            if running:
                names, more = _running_names(running)
                within = f" (up to {self.grace:g} s)" if self.grace is not None else ""
                self.say("stopping", {"message": f"stopping: nothing new starts; waiting for {len(running)} "
                                                 f"running task(s) to finish{within}: {names}{more}. "
                                                 f"Press Ctrl-C again to kill them (they run again later)."})
            else:
                self.say("stopping", {"message": "stopping: nothing is running"})
        else:
            if loop.running_tries():
                self.say("stopping", {"message": f"killing {len(loop.running_tries())} running task(s); "
                                                 f"they run again later"})
            loop.interrupt_all()

    @contextmanager
    def signals(self) -> Iterator[None]:
        old = {s: signal.signal(s, self.on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)

    # -- running -------------------------------------------------------------------------

    def run(self) -> int:
        """Turn the loop until the scope is done (or a stop has drained); the exit code."""
        loop = self.loop
        events: list[Event] = []
        try:
            with self.signals():
                while True:
                    now = self.clock.now()
                    want = self.scope.before(loop, now)
                    loop.scope = self.scope.runs()
                    sleep = loop.step(events, now)
                    if want is not None:
                        sleep = min(sleep, max(0.0, want))
                    if loop.stopping:
                        if self._stopped():
                            break
                    elif self.scope.done(loop):
                        break
                    events = self.executor.poll(sleep)
        finally:
            self.executor.shutdown(grace=0)
        return self.scope.exit_code(loop)

    def _stopped(self) -> bool:
        loop = self.loop
        if not loop.busy():
            return True
        if self.grace is not None:
            mono = self.clock.monotonic()
            if self._stop_deadline is None:
                self._stop_deadline = mono + self.grace
            elif mono > self._stop_deadline and loop.running_tries() and not loop.interrupted:
                self.say("stopping", {"message": f"grace of {self.grace:g} s is over: killing "
                                                 f"{len(loop.running_tries())} running task(s); they run again later"})
                loop.interrupt_all()
        return False
