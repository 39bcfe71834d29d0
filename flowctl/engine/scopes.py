"""What a driver carries out: one run (`flowctl run`), or a backfill's runs.
(The scheduler's scope, everything due, is in `scheduler.py`.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flowctl.engine.loop import Loop
from flowctl.errors import StoreCorrupt
from flowctl.records import RunKey
from flowctl.states import RUN_FINISHED
from flowctl.store import Store


def run_state(loop: Loop, store: Store, key: RunKey) -> str | None:
    """A run's state as committed (None: no such run; "damaged": unreadable)."""
    carried = loop.carried.get(key)
    if carried is not None:
        return carried.stored.record.state
    try:
        stored = store.read_run(*key)
    except StoreCorrupt:
        return "damaged"
    return stored.record.state if stored is not None else None


@dataclass
class RunScope:
    """One run (or a fixed set), carried out until it has finished."""

    keys: set[RunKey]
    store: Store
    said: str | None = None  #: why the run waits, as last said

    def runs(self) -> set[RunKey] | None:
        return self.keys

    def before(self, loop: Loop, now: datetime) -> float | None:
        return None

    def done(self, loop: Loop) -> bool:
        if loop.busy():
            return False
        over = all(run_state(loop, self.store, k) in RUN_FINISHED | {None, "damaged"}
                   for k in self.keys | loop.triggered)  # and the runs its tasks triggered
        if not over and loop.idle_ticks >= 3 and not loop.stopping:
            self._say_why(loop)
        return over

    def _say_why(self, loop: Loop) -> None:
        """Nothing runs and nothing is due: say once why the run waits (a pool of 0
        slots, say), rather than wait in silence; it goes on when that changes."""
        why = "; ".join(loop.why_waiting(k, loop.clock.now()) for k in sorted(self.keys) if k in loop.carried)
        if why and why != self.said:
            self.said = why
            loop.announce("waiting", {"message": f"waiting: {why}"})

    def exit_code(self, loop: Loop) -> int:
        states = [run_state(loop, self.store, k) for k in self.keys]
        return 0 if states and all(s == "success" for s in states) else 1


@dataclass
class Feed:
    """Runs fed to a driver a few at a time (a backfill): `start(item)` makes or
    takes over the item's run and returns its key (None: nothing to do)."""

    items: list[Any]
    max_active: int
    start: Any  #: Callable[[list[Any]], list[tuple[Any, RunKey | None]]]
    store: Store
    active: set[RunKey] = field(default_factory=set)
    keys: set[RunKey] = field(default_factory=set)
    finished: dict[RunKey, str] = field(default_factory=dict)
    started: dict[Any, RunKey | None] = field(default_factory=dict)
    on_finish: Any = None  #: Callable[[RunKey, str, int], None]: a run ended (key, state, how many so far)

    def runs(self) -> set[RunKey] | None:
        """The runs still going: a finished one leaves the loop (else every tick
        would look at all the runs the backfill ever made)."""
        return set(self.active)

    def before(self, loop: Loop, now: datetime) -> float | None:
        freed = False
        for key in list(self.active):
            state = run_state(loop, self.store, key)
            if state in RUN_FINISHED or state in (None, "damaged"):
                self.active.discard(key)
                self.finished[key] = state or "missing"
                freed = True
                if self.on_finish is not None:
                    self.on_finish(key, self.finished[key], len(self.finished))
        room = self.max_active - len(self.active)
        if room > 0 and self.items and not loop.stopping:
            batch, self.items = self.items[:room], self.items[room:]
            for item, key in self.start(batch):
                self.started[item] = key
                if key is not None:
                    self.keys.add(key)
                    self.active.add(key)
            freed = True
        return 0.0 if freed and self.items else None

    def done(self, loop: Loop) -> bool:
        if loop.busy():
            return False
        triggered = all(run_state(loop, self.store, k) in RUN_FINISHED | {None, "damaged"} for k in loop.triggered)
        return loop.stopping or (not self.items and not self.active and triggered)

    def exit_code(self, loop: Loop) -> int:
        if self.items or self.active:
            return 1
        return 0 if all(s == "success" for s in self.finished.values()) else 1
