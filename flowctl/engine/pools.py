"""Pools and concurrency limits across processes: the slot ledger.

Several processes may carry runs out at once (the daemon, a foreground
`flowctl run`, a `backfill`). They agree on who holds which slots through the
ledger in the store (`state/slots.json`): each try that holds slots is an
entry naming its pool, its slots and the process that carries it.

- A try is admitted under the writer lock, in the same transaction that
  queues it: the ledger is read there, the try counted against its pool, its
  DAG's `max_active_tasks` and its task's `max_active_tis_per_dag`, and
  written with the queued state; a try that no longer fits is not queued (the
  loop decides again).
- Each process rewrites its own entries whole on every commit that changes
  them: what it has handed to its executor and not seen end. A try's slots
  are freed by the commit that records its end (or by any later one).
- An entry whose process is dead counts for nothing and is dropped by the
  next writer, so a killed process never keeps slots.

What decides is pure (`decisions.Occupancy`); this module only reads the
ledger and the pools for the loop and hands its entries to the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flowctl.engine.decisions import DEFAULT_POOL, Holder, Lane, Occupancy, lane_of
from flowctl.errors import StoreCorrupt
from flowctl.procs import owner_alive, same_owner
from flowctl.records import RunKey, TaskKey, TryKey
from flowctl.specs import DagSpec, TaskSpec
from flowctl.store import Store, Transaction


def pool_sizes(store: Store, workers: int) -> dict[str, int]:
    """Pool -> slots: the pools set with `flowctl pools set`, and `default_pool`
    (the worker count unless it was set). A pools file that cannot be read
    leaves only the default pool (the error is in `store.warnings`)."""
    sizes = {DEFAULT_POOL: int(workers)}
    try:
        for name, entry in store.pools().items():
            sizes[name] = int(entry.get("slots", 0))
    except StoreCorrupt as exc:
        store.warnings.append(str(exc))
    return sizes


def live_holders(docs: Iterable[Mapping[str, Any]], skip_owner: Mapping[str, Any] | None = None) -> list[Holder]:
    """The ledger's entries whose process lives (but `skip_owner`'s)."""
    alive: dict[tuple[Any, ...], bool] = {}
    out = []
    for doc in docs:
        owner = doc.get("owner") or {}
        if skip_owner is not None and same_owner(owner, dict(skip_owner)):
            continue
        ident = (owner.get("pid"), owner.get("started"), owner.get("hostname"))
        if ident not in alive:
            alive[ident] = owner_alive(owner)
        if alive[ident]:
            out.append(Holder.from_doc(doc))
    return out


def occupancy_of(store: Store, workers: int, dag_limits: Mapping[str, int] | None = None) -> Occupancy:
    """Every live process's holdings, as `explain` and `pools list` show them."""
    return Occupancy(pool_sizes(store, workers), live_holders(store.slot_holders()), dag_limits)


class SlotKeeper:
    """One loop's side of the ledger: what it holds, what it is about to queue,
    and whether its entries in the ledger are up to date."""

    def __init__(self, store: Store, owner: dict[str, Any], workers: int) -> None:
        self.store = store
        self.owner = owner
        self.workers = workers
        self.held: dict[TryKey, Holder] = {}  #: tries of this process that hold slots (submitted, not ended)
        self.reserved: dict[tuple[RunKey, TaskKey], tuple[TryKey, Holder, Lane]] = {}  #: queued in the next commit
        self.written: frozenset[Holder] | None = frozenset()  #: this process's entries as committed (None: unknown)
        self._locked: Occupancy | None = None  #: the ledger under the lock, during a commit
        self._admitted: list[Holder] = []
        self._pending_write: frozenset[Holder] | None = None
        self.others: list[Holder] = []  #: other live processes' holdings, as last read

    # -- reading ------------------------------------------------------------------------

    def occupancy(self, dag_limits: Mapping[str, int], docs: Iterable[Mapping[str, Any]] | None = None) -> Occupancy:
        """The other live processes' holdings (from the ledger) and this one's (from memory)."""
        if docs is None:
            docs = self.store.slot_holders()
        holders = live_holders(docs, skip_owner=self.owner)
        self.others = list(holders)
        holders.extend(self.held.values())
        holders.extend(h for _, h, _ in self.reserved.values())
        return Occupancy(pool_sizes(self.store, self.workers), holders, dag_limits)

    @staticmethod
    def lane(spec: DagSpec | None, task_id: str) -> Lane:
        task: TaskSpec | None = spec.tasks.get(task_id) if spec is not None else None
        return lane_of(task)

    # -- the loop's events -----------------------------------------------------------------

    def reserve(self, run: RunKey, key: TryKey, spec: DagSpec) -> dict[str, Any]:
        """A try is being queued: it holds its slots from the commit that queues it.
        Returns what its task instance records of them (a pool other than the
        default, more than one slot), so the ledger can be rebuilt from the runs."""
        lane = self.lane(spec, key.task_id)
        self.reserved[(run, key.task)] = (key, Holder(key.dag_id, key.run_id, key.task_id, key.map_index,
                                                      key.try_number, lane.pool, lane.slots), lane)
        fields: dict[str, Any] = {}
        if lane.pool != DEFAULT_POOL:
            fields["pool"] = lane.pool
        if lane.slots != 1:
            fields["pool_slots"] = lane.slots
        return fields

    def submitted(self, key: TryKey) -> None:
        """The queued try was committed and handed to the executor."""
        entry = self.reserved.pop((key.run, key.task), None)
        if entry is not None and entry[0] == key:
            self.held[key] = entry[1]

    def dropped(self, run: RunKey, task: TaskKey) -> None:
        """A reservation whose change the commit did not take."""
        self.reserved.pop((run, task), None)

    def ended(self, key: TryKey) -> None:
        """The try's process is over: its slots come free with the next commit."""
        self.held.pop(key, None)

    def dirty(self) -> bool:
        return self.written is None or self.written != frozenset(self.held.values())

    # -- under the writer lock ---------------------------------------------------------------

    def begin(self, tx: Transaction, dag_limits: Mapping[str, int]) -> None:
        """A commit starts: others' holdings as the ledger has them under the lock,
        plus this process's running tries (each reservation is admitted on its own)."""
        holders = live_holders(tx.slot_holders(), skip_owner=self.owner)
        holders.extend(self.held.values())
        self._locked = Occupancy(pool_sizes(self.store, self.workers), holders, dag_limits)
        self._admitted = []

    def admit(self, run: RunKey, task: TaskKey) -> bool:
        """Whether the change about to be written to this task instance may go
        in: a queued try must still fit the ledger as it is under the lock."""
        entry = self.reserved.get((run, task))
        if entry is None or self._locked is None:
            return True
        _, holder, lane = entry
        if self._locked.unrunnable(lane) is not None or self._locked.blocked(run.dag_id, lane) is not None:
            return False
        self._locked.take(run.dag_id, lane, holder)
        self._admitted.append(holder)
        return True

    def finish(self, tx: Transaction) -> None:
        """Put this process's holdings in the transaction, if they changed."""
        mine = frozenset([*self.held.values(), *self._admitted])
        self._locked = None
        if mine == self.written and not self._admitted:
            self._pending_write = None
            return
        tx.hold_slots(self.owner, [h.to_doc() for h in mine])
        self._pending_write = mine

    def committed(self, ok: bool) -> None:
        """The transaction went in (or failed: our entries are rewritten next time)."""
        self._locked = None
        self._admitted = []
        if not ok:
            self.written = None
        elif self._pending_write is not None:
            self.written = self._pending_write
        self._pending_write = None
