"""Data-aware scheduling: asset events from successful tries, and the runs
they make for DAGs scheduled on assets.

An event (assetlog.py) is recorded by the commit that records its task's
success (`AssetEvents.apply`). It names the DAGs it is *queued for*: those
scheduled on its asset (or on the alias it came through) and not paused when
it was recorded, as Airflow queues an event for the consumers it has then.

The scheduler (`AssetTriggers`) gives such a DAG a run once the events queued
for it since its last asset-triggered run satisfy its condition:

    [a, b] or a & b    both updated      a | b    either updated

The run (`asset_triggered__<time>`) takes every event queued for the DAG up
to then (`triggering_asset_events`), and the next run counts from there. Its
logical date is the time of the latest of those events (Airflow 2's rule);
its data interval spans the intervals of the runs that produced them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flowctl import assetlog
from flowctl.clock import iso
from flowctl.errors import StoreCorrupt
from flowctl.records import RunKey, TaskKey, TryKey, logical_stamp
from flowctl.specs import DagSpec
from flowctl.store import RunWriter, Store, Transaction

RUN_TYPE = "asset_triggered"


# -- the condition ---------------------------------------------------------------------------


def satisfied(cond: Mapping[str, Any] | None, uris: set[str], aliases: set[str],
              resolved: Mapping[str, set[str]] | None = None) -> bool:
    """Whether the condition holds, given the assets (and aliases) updated. An
    alias holds when an event came through it, or when one of the assets it
    has resolved to (`resolved`) was updated, as Airflow re-reads a DAG's
    schedule once its alias resolves."""
    if not cond:
        return False
    if "asset" in cond:
        return cond["asset"] in uris
    if "alias" in cond:
        return cond["alias"] in aliases or bool((resolved or {}).get(cond["alias"], set()) & uris)
    if "all" in cond:
        return all(satisfied(c, uris, aliases, resolved) for c in cond["all"])
    if "any" in cond:
        return any(satisfied(c, uris, aliases, resolved) for c in cond["any"])
    return False


def resolved_aliases(log: Iterable[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Alias name -> the assets events have added through it."""
    out: dict[str, set[str]] = {}
    for event in log:
        if event.get("alias"):
            out.setdefault(event["alias"], set()).add(event["uri"])
    return out


def mentioned(cond: Mapping[str, Any] | None) -> tuple[set[str], set[str]]:
    """(asset URIs, alias names) a condition names."""
    uris: set[str] = set()
    aliases: set[str] = set()

    def walk(c: Mapping[str, Any]) -> None:
        if "asset" in c:
            uris.add(c["asset"])
        elif "alias" in c:
            aliases.add(c["alias"])
        for sub in c.get("all", ()) or c.get("any", ()) or ():
            walk(sub)

    if cond:
        walk(cond)
    return uris, aliases


def consumers(specs: Mapping[str, DagSpec], uri: str, alias: str | None,
              resolved: Mapping[str, set[str]] | None = None) -> list[str]:
    """The DAGs scheduled on this asset, on the alias the event came through,
    or on an alias that has resolved to this asset."""
    out = []
    for dag_id, spec in specs.items():
        uris, aliases = mentioned(spec.asset_condition)
        if uri in uris or (alias is not None and alias in aliases) or any(
                uri in (resolved or {}).get(a, set()) for a in aliases):
            out.append(dag_id)
    return sorted(out)


# -- events from a successful try ----------------------------------------------------------------


@dataclass
class AssetEvents:
    """The asset events a successful try asks for, recorded in its commit."""

    key: TryKey
    docs: list[dict[str, Any]]
    recorded: list[dict[str, Any]] = field(default_factory=list)

    def apply(self, tx: Transaction, writer: RunWriter, tk: TaskKey, ctx: Any) -> bool:
        record = writer.record
        try:
            paused = {d for d, f in tx.store.dag_flags().items() if f.get("paused")}
        except StoreCorrupt:  # unknown: every consumer is queued for; no run is made while it is damaged
            paused = set()
        try:
            resolved = resolved_aliases([*assetlog.events(tx.store), *self.docs])
        except StoreCorrupt:
            resolved = resolved_aliases(self.docs)
        events = []
        for doc in self.docs:
            uri = str(doc.get("uri") or "")
            if not uri:
                continue
            alias = doc.get("alias")
            events.append({
                "uri": uri, "name": doc.get("name") or uri, "group": doc.get("group") or "asset",
                "extra": doc.get("extra") or {}, "alias": alias, "timestamp": ctx.now.isoformat(),
                "dag_id": self.key.dag_id, "run_id": self.key.run_id, "task_id": self.key.task_id,
                "map_index": self.key.map_index, "try_number": self.key.try_number,
                "data_interval_start": record.data_interval_start, "data_interval_end": record.data_interval_end,
                "queued_for": [d for d in consumers(ctx.specs, uri, alias, resolved) if d not in paused],
            })
        try:
            self.recorded = assetlog.stage(tx, events)
        except StoreCorrupt as exc:  # the task's success still counts; `flowctl doctor` names the file
            writer.put_ti(tk, assets_error=f"asset events not recorded: {exc}")
        return True


def outlet_requests(task: Any, result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The events a successful result asks for: the try's own list (extras,
    aliases), or else one per outlet the DAG file declares."""
    docs = result.get("outlet_events")
    if isinstance(docs, list):
        return [dict(d) for d in docs if isinstance(d, Mapping)]
    return [{"uri": uri} for uri in (getattr(task, "outlets", None) or ())]


# -- runs for DAGs scheduled on assets -----------------------------------------------------------


@dataclass
class AssetPlan:
    spec: DagSpec
    events: list[dict[str, Any]]
    cursor: int


class AssetTriggers:
    """The scheduler's part: which asset-scheduled DAGs are due a run, and making them."""

    def __init__(self, store: Store, owner: dict[str, Any]) -> None:
        self.store = store
        self.owner = owner
        self._looked: tuple[Any, ...] | None = None

    def due(self, specs: Mapping[str, DagSpec], flags: Mapping[str, Mapping[str, Any]],
            active_runs: Iterable[RunKey]) -> list[AssetPlan]:
        """The runs to make now. Looks only when an event was added, or a pause,
        a DAG or the active runs changed (max_active_runs)."""
        scheduled = {d: s for d, s in specs.items() if s.asset_condition}
        if not scheduled:
            return []
        active = sorted(active_runs)
        look = (assetlog.stamp(self.store), active,
                sorted((d, bool(flags.get(d, {}).get("paused")), s.fingerprint, str(s.asset_condition))
                       for d, s in scheduled.items()))
        if look == self._looked:
            return []
        self._looked = look
        try:
            log = assetlog.events(self.store)
        except StoreCorrupt:
            return []
        resolved = resolved_aliases(log)
        plans = []
        for dag_id, spec in sorted(scheduled.items()):
            if flags.get(dag_id, {}).get("paused"):
                continue
            if sum(1 for k in active if k.dag_id == dag_id) >= spec.max_active_runs:
                continue  # looked at again when one ends (the active runs are part of the look)
            cursor = last_cursor(self.store, dag_id)
            queued = [e for e in log if e["n"] > cursor and dag_id in (e.get("queued_for") or ())]
            if not queued:
                continue
            uris = {e["uri"] for e in queued}
            aliases = {e["alias"] for e in queued if e.get("alias")}
            if satisfied(spec.asset_condition, uris, aliases, resolved):
                plans.append(AssetPlan(spec, queued, max(e["n"] for e in queued)))
        return plans

    def unseen(self, specs: Mapping[str, DagSpec]) -> bool:
        """Whether events were added since `due` last looked (the scheduler is not
        idle until it has looked: they may make runs)."""
        if not any(s.asset_condition for s in specs.values()):
            return False
        return self._looked is None or self._looked[0] != assetlog.stamp(self.store)

    def create(self, tx: Transaction, plan: AssetPlan, now: datetime) -> str | None:
        """Make the plan's run inside the scheduler's transaction (None: its time was taken)."""
        from flowctl.engine.runs import new_run

        if last_cursor(self.store, plan.spec.dag_id) >= plan.cursor:
            return None  # another scheduler made it meanwhile
        logical = run_time(self.store, plan.spec.dag_id, plan.events, now)
        starts = [_dt(e.get("data_interval_start")) for e in plan.events]
        ends = [_dt(e.get("data_interval_end")) for e in plan.events]
        start = min((s for s in starts if s is not None), default=logical)
        end = max((e for e in ends if e is not None), default=logical)
        run_id = new_run(tx, plan.spec, run_type=RUN_TYPE, logical_date=logical, interval=(start, end),
                         owner=self.owner, now=now, exist_ok=True)
        if run_id is None:
            return None
        writer = tx.run(plan.spec.dag_id, run_id)
        if writer is not None:
            shown = [{k: v for k, v in e.items() if k != "queued_for"} for e in plan.events]
            writer.update_run(asset_cursor=plan.cursor, triggering_asset_events=shown)
        return run_id


def last_cursor(store: Store, dag_id: str) -> int:
    """The last event the DAG's latest asset-triggered run took (0: none yet)."""
    ids = [r for r in store.run_ids(dag_id) if r.startswith(RUN_TYPE + "__")]
    for run_id in sorted(ids, key=lambda r: logical_stamp(r) or "", reverse=True):
        try:
            stored = store.read_run(dag_id, run_id)
        except StoreCorrupt:
            continue
        if stored is not None:
            return int(stored.record.extra.get("asset_cursor") or 0)
    return 0


def run_time(store: Store, dag_id: str, events: list[dict[str, Any]], now: datetime) -> datetime:
    """The logical date of an asset-triggered run: its latest event's time, after
    the DAG's latest run of any kind at that time (one run per logical date)."""
    times = [t for t in (_dt(e.get("timestamp")) for e in events) if t is not None]
    when = max(times) if times else now
    taken = {logical_stamp(r) for r in store.run_ids(dag_id)}
    while iso(when) in taken:
        when += timedelta(microseconds=1)
    return when


def _dt(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


# -- what `assets list` shows --------------------------------------------------------------------


def asset_rows(specs: Mapping[str, DagSpec], log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every asset the DAG files name or an event recorded: its producers
    (`dag.task` with it in outlets), its consumers (DAGs scheduled on it), its
    events and last update."""
    rows: dict[str, dict[str, Any]] = {}

    def row(uri: str) -> dict[str, Any]:
        if uri not in rows:
            rows[uri] = {"uri": uri, "name": uri, "group": "asset", "extra": {}, "producers": [], "consumers": [],
                         "readers": [], "events": 0, "last_update": None, "last_producer": None}
        return rows[uri]

    for dag_id, spec in sorted(specs.items()):
        for uri, info in spec.assets.items():
            r = row(uri)
            r.update(name=info.get("name") or uri, group=info.get("group") or "asset",
                     extra=info.get("extra") or r["extra"])
        for tid in spec.order:
            task = spec.tasks[tid]
            for uri in task.outlets:
                row(uri)["producers"].append(f"{dag_id}.{tid}")
            for uri in task.inlets:
                row(uri)["readers"].append(f"{dag_id}.{tid}")
        uris, _ = mentioned(spec.asset_condition)
        for uri in uris:
            row(uri)["consumers"].append(dag_id)
    for event in log:
        r = row(event["uri"])
        if r["name"] == r["uri"] and event.get("name"):
            r["name"] = event["name"]
        r["events"] += 1
        r["last_update"] = event.get("timestamp")
        r["last_producer"] = f"{event.get('dag_id')}.{event.get('task_id')} {event.get('run_id')}"
    return [rows[u] for u in sorted(rows)]


def alias_rows(specs: Mapping[str, DagSpec], log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Asset aliases: who adds assets through them, who is scheduled on them, what they resolved to."""
    rows: dict[str, dict[str, Any]] = {}
    for dag_id, spec in sorted(specs.items()):
        for tid in spec.order:
            for name in spec.tasks[tid].outlet_aliases:
                rows.setdefault(name, {"name": name, "producers": [], "consumers": [], "assets": []})
                rows[name]["producers"].append(f"{dag_id}.{tid}")
        _, aliases = mentioned(spec.asset_condition)
        for name in aliases:
            rows.setdefault(name, {"name": name, "producers": [], "consumers": [], "assets": []})
            rows[name]["consumers"].append(dag_id)
    for event in log:
        alias = event.get("alias")
        if alias:
            r = rows.setdefault(alias, {"name": alias, "producers": [], "consumers": [], "assets": []})
            if event["uri"] not in r["assets"]:
                r["assets"].append(event["uri"])
    return [rows[n] for n in sorted(rows)]


def waiting_for(spec: DagSpec, store: Store) -> dict[str, Any]:
    """What an asset-scheduled DAG has and still needs: the assets updated
    since its last asset-triggered run, and whether that satisfies its condition."""
    cursor = last_cursor(store, spec.dag_id)
    queued = [e for e in assetlog.events(store) if e["n"] > cursor and spec.dag_id in (e.get("queued_for") or ())]
    uris = {e["uri"] for e in queued}
    aliases = {e["alias"] for e in queued if e.get("alias")}
    wanted, _ = mentioned(spec.asset_condition)
    return {"updated": sorted(uris), "missing": sorted(wanted - uris), "events": len(queued),
            "due": satisfied(spec.asset_condition, uris, aliases, resolved_aliases(assetlog.events(store)))}


__all__ = ["RUN_TYPE", "AssetEvents", "AssetTriggers", "alias_rows", "asset_rows", "consumers", "last_cursor",
           "mentioned", "outlet_requests", "resolved_aliases", "satisfied", "waiting_for"]
