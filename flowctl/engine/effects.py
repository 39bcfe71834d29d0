"""What a finished try asks the engine to do besides recording its state,
committed with that state in the loop's one commit: asset events
(engine/assets.py) and runs of other DAGs (engine/crossdag.py).

The loop calls `settle` when a result arrives (the result may change: a
trigger whose DAG is missing fails the try) and `apply` inside its commit,
under the writer lock, just before it writes the task instance. `apply`
returns the try's Finished event when the commit must not record the result
yet (another process changed what the request depends on): the loop decides
that result again on its next tick.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flowctl.engine.assets import AssetEvents, outlet_requests
from flowctl.engine.crossdag import TriggerRun, settle_trigger
from flowctl.records import RunKey, TaskKey, TryKey
from flowctl.specs import DagSpec, TaskSpec
from flowctl.store import RunWriter, Store, Transaction

Effect = AssetEvents | TriggerRun


@dataclass
class Context:
    """What effects need inside a commit."""

    specs: Mapping[str, DagSpec]
    owner: dict[str, Any] | None
    now: datetime
    created: list[RunKey] = field(default_factory=list)  #: runs made (or cleared) by this commit


@dataclass
class Settled:
    result: dict[str, Any]
    effects: list[Effect]
    fields: dict[str, Any]  #: more task-instance fields to record with the result
    note: str | None  #: a line for the try's log (what the engine decided and why)


def settle(store: Store, specs: Mapping[str, DagSpec], key: TryKey, event: Any, task: TaskSpec | None,
           result: dict[str, Any], now: datetime) -> Settled:
    effects: list[Effect] = []
    fields: dict[str, Any] = {}
    note = None
    before = result.get("state")
    result, trigger = settle_trigger(store, specs, key, event, result, now)
    if trigger is not None:
        effects.append(trigger)
        fields["triggered_run"] = {"dag_id": trigger.dag_id, "run_id": trigger.xcom.get("trigger_run_id")}
    if result.get("state") != before:
        note = result.get("error") or result.get("skip_reason")
    if result.get("state") == "success":
        docs = outlet_requests(task, result)
        if docs:
            effects.append(AssetEvents(key, docs))
            fields["assets_updated"] = sorted({str(d.get("uri")) for d in docs if d.get("uri")})
    if result.get("external_logical_date"):  # an ExternalTaskMarker's rendered date, for clears
        fields["external_logical_date"] = result["external_logical_date"]
    return Settled(result, effects, fields, note)


def apply(effects: list[Effect], tx: Transaction, writer: RunWriter, tk: TaskKey, ctx: Context) -> Any | None:
    """Write the effects into the transaction; None when done, or the Finished
    event to decide again (nothing was written then)."""
    for effect in sorted(effects, key=lambda e: 0 if isinstance(e, TriggerRun) else 1):
        if not effect.apply(tx, writer, tk, ctx):
            return getattr(effect, "event", None)
    return None


__all__ = ["Context", "Effect", "Settled", "apply", "settle"]
