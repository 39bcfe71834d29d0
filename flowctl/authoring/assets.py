"""Assets (Airflow 3; Datasets in Airflow 2): what tasks produce and DAGs wait for.

A task declares what it updates with `outlets=[Asset("s3://bucket/key")]`;
when a try of it succeeds, the engine records one *asset event* per asset,
in the same commit as the success. A DAG with `schedule=[Asset(...), ...]`
(all of them), or a condition made with `&` and `|`, gets a run once its
assets have been updated since its last asset-triggered run.

The condition a DAG file builds becomes plain data for the scheduler
(`condition_doc`):

    {"asset": "s3://a"}                       one asset
    {"alias": "my-alias"}                     an AssetAlias (the assets added through it)
    {"all": [cond, ...]}, {"any": [cond, ...]}

`Asset(name, uri)` follows Airflow 3: either may be given; the one not given
is the other. `Dataset(uri)` is Airflow 2's name. Two assets are the same
asset when their URIs are.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from flowctl.errors import DagDefinitionError


class BaseAsset:
    """What `&` and `|` combine."""

    def __or__(self, other: Any) -> AssetAny:
        return AssetAny(self, other)

    def __and__(self, other: Any) -> AssetAll:
        return AssetAll(self, other)


class Asset(BaseAsset):
    """A piece of data a task produces (`outlets`) or a DAG waits for (`schedule`)."""

    def __init__(self, name: str | None = None, uri: str | None = None, *, group: str = "asset",
                 extra: dict[str, Any] | None = None, watchers: Any = None, **_: Any) -> None:
        if name is None and uri is None:
            raise DagDefinitionError("Asset() needs a name or a uri")
        name = str(name if name is not None else uri)
        uri = str(uri if uri is not None else name)
        if not name.strip() or not uri.strip():
            raise DagDefinitionError("an asset's name and uri must not be empty")
        self.name = name
        self.uri = uri
        self.group = group
        self.extra = dict(extra or {})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Asset) and other.uri == self.uri

    def __hash__(self) -> int:
        return hash(("asset", self.uri))

    def __repr__(self) -> str:
        if self.name == self.uri:
            return f"Asset({self.uri!r})"
        return f"Asset(name={self.name!r}, uri={self.uri!r})"

    def describe(self) -> dict[str, Any]:
        return {"uri": self.uri, "name": self.name, "group": self.group, "extra": _jsonable(self.extra)}


class Dataset(Asset):
    """Airflow 2's name of Asset: `Dataset(uri, extra=None)`."""

    def __init__(self, uri: str | None = None, extra: dict[str, Any] | None = None, **kwargs: Any) -> None:
        name = kwargs.pop("name", None)
        super().__init__(name=name or uri, uri=uri or name, extra=extra, group=kwargs.pop("group", "dataset"))


class AssetAlias(BaseAsset):
    """A name a task gives the assets it decides on while it runs:
    `outlet_events[AssetAlias("x")].add(Asset("s3://..."))`."""

    def __init__(self, name: str, group: str = "asset") -> None:
        if not isinstance(name, str) or not name.strip():
            raise DagDefinitionError("AssetAlias() needs a name")
        self.name = name
        self.group = group

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AssetAlias) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("alias", self.name))

    def __repr__(self) -> str:
        return f"AssetAlias({self.name!r})"


class _Condition(BaseAsset):
    kind = ""

    def __init__(self, *objects: Any) -> None:
        for obj in objects:
            if not isinstance(obj, BaseAsset):
                raise DagDefinitionError(f"{type(self).__name__}: {obj!r} is not an Asset, AssetAlias or condition")
        self.objects = objects

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.objects))})"


class AssetAll(_Condition):
    """Every one of them updated (`a & b`)."""

    kind = "all"


class AssetAny(_Condition):
    """Any one of them updated (`a | b`)."""

    kind = "any"


DatasetAll, DatasetAny, DatasetAlias = AssetAll, AssetAny, AssetAlias


class AssetOrTimeSchedule:
    """A time schedule that also runs on asset updates (Airflow's
    `AssetOrTimeSchedule(timetable=..., assets=...)`)."""

    def __init__(self, *, timetable: Any, assets: Any = None, datasets: Any = None) -> None:
        self.timetable = timetable
        self.assets = assets if assets is not None else datasets
        if self.assets is None:
            raise DagDefinitionError("AssetOrTimeSchedule needs assets=")


class Metadata:
    """Yielded by a task to give the event of one of its outlets extra information."""

    def __init__(self, asset: Any, extra: dict[str, Any], alias: Any = None) -> None:
        self.asset = asset
        self.extra = dict(extra or {})
        self.alias = alias


# -- the condition as data ------------------------------------------------------------------


def is_asset_schedule(value: Any) -> bool:
    """An asset, alias or condition, or a non-empty list of them."""
    if isinstance(value, BaseAsset):
        return True
    return isinstance(value, list | tuple | set) and bool(value) and all(isinstance(v, BaseAsset) for v in value)


def condition_doc(value: Any) -> dict[str, Any]:
    """The condition as plain data (see the module's docstring); a list means all."""
    if isinstance(value, list | tuple | set):
        return {"all": [condition_doc(v) for v in value]}
    if isinstance(value, Asset):
        return {"asset": value.uri}
    if isinstance(value, AssetAlias):
        return {"alias": value.name}
    if isinstance(value, _Condition):
        return {value.kind: [condition_doc(v) for v in value.objects]}
    raise DagDefinitionError(f"{value!r} is not an Asset, AssetAlias or asset condition")


def assets_in(value: Any) -> Iterator[Asset]:
    """Every Asset inside a schedule or a list of outlets."""
    if isinstance(value, Asset):
        yield value
    elif isinstance(value, _Condition):
        for v in value.objects:
            yield from assets_in(v)
    elif isinstance(value, list | tuple | set):
        for v in value:
            yield from assets_in(v)


def aliases_in(value: Any) -> Iterator[AssetAlias]:
    if isinstance(value, AssetAlias):
        yield value
    elif isinstance(value, _Condition):
        for v in value.objects:
            yield from aliases_in(v)
    elif isinstance(value, list | tuple | set):
        for v in value:
            yield from aliases_in(v)


def condition_text(cond: Mapping[str, Any] | None, top: bool = True) -> str:
    """`s3://a & (s3://b | s3://c)`: a condition as people read it."""
    if not cond:
        return ""
    if "asset" in cond:
        return str(cond["asset"])
    if "alias" in cond:
        return f"alias:{cond['alias']}"
    kind = "all" if "all" in cond else "any"
    parts = [condition_text(c, False) for c in cond[kind]]
    text = (" & " if kind == "all" else " | ").join(parts)
    return text if top or len(parts) < 2 else f"({text})"


# -- inside a task: outlet events, inlet events, triggering events -------------------------


class OutletEvent:
    """`outlet_events[asset]`: the extra of the event the task's success will record
    for that asset; for an alias, `.add(asset, extra=...)` names an asset it updated."""

    def __init__(self, key: Any) -> None:
        self.key = key
        self.extra: dict[str, Any] = {}
        self.added: list[tuple[Asset, dict[str, Any]]] = []

    def add(self, asset: Asset, extra: dict[str, Any] | None = None) -> None:
        if not isinstance(asset, Asset):
            raise TypeError(f"outlet_events[{self.key!r}].add() takes an Asset, not {asset!r}")
        self.added.append((asset, dict(extra or {})))


class OutletEvents(Mapping[Any, OutletEvent]):
    """`outlet_events` in the context: one `OutletEvent` per asset or alias asked for."""

    def __init__(self) -> None:
        self._events: dict[Any, OutletEvent] = {}

    def __getitem__(self, key: Any) -> OutletEvent:
        if isinstance(key, str):
            key = Asset(key)
        if not isinstance(key, Asset | AssetAlias):
            raise KeyError(key)
        if key not in self._events:
            self._events[key] = OutletEvent(key)
        return self._events[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)


def outlet_event_docs(task: Any, events: OutletEvents, yielded: Iterable[Any] = ()) -> list[dict[str, Any]]:
    """The asset events a successful try records: one per outlet asset (its extra from
    `outlet_events` or a yielded `Metadata`), and those added through aliases."""
    extras: dict[str, dict[str, Any]] = {}
    added: list[tuple[Asset, dict[str, Any], str | None]] = []
    for item in yielded:
        if isinstance(item, Metadata):
            if isinstance(item.asset, Asset):
                if item.alias is not None:
                    added.append((item.asset, item.extra, getattr(item.alias, "name", str(item.alias))))
                else:
                    extras.setdefault(item.asset.uri, {}).update(item.extra)
    for key, event in events._events.items():
        if isinstance(key, Asset):
            extras.setdefault(key.uri, {}).update(event.extra)
        for asset, extra in event.added:
            added.append((asset, {**event.extra, **extra}, key.name if isinstance(key, AssetAlias) else None))
    docs: list[dict[str, Any]] = []
    seen: set[str] = set()
    for asset in assets_in(list(getattr(task, "outlets", None) or [])):
        if asset.uri in seen:
            continue
        seen.add(asset.uri)
        docs.append({**asset.describe(), "extra": _jsonable(extras.get(asset.uri, {}))})
    for asset, extra, alias in added:
        docs.append({**asset.describe(), "extra": _jsonable(extra), "alias": alias})
    return docs


class AssetEvent:
    """One recorded asset event, as task code reads it (Airflow's AssetEvent)."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        import pendulum

        self.doc = dict(doc)
        self.id = doc.get("n")
        self.uri = doc.get("uri")
        self.asset = Asset(name=doc.get("name") or doc.get("uri"), uri=doc.get("uri"))
        self.dataset = self.asset
        self.extra = dict(doc.get("extra") or {})
        self.timestamp = pendulum.parse(doc["timestamp"]) if doc.get("timestamp") else None
        self.source_dag_id = doc.get("dag_id")
        self.source_run_id = doc.get("run_id")
        self.source_task_id = doc.get("task_id")
        self.source_map_index = doc.get("map_index", -1)
        self.source_aliases = [AssetAlias(doc["alias"])] if doc.get("alias") else []

    def __repr__(self) -> str:
        return (f"AssetEvent(uri={self.uri!r}, extra={self.extra!r}, timestamp={self.timestamp}, "
                f"source={self.source_dag_id}.{self.source_task_id} {self.source_run_id})")


class AssetEvents(Mapping[Any, list[AssetEvent]]):
    """`triggering_asset_events` and `inlet_events`: events by asset. Keys are
    Assets; an asset's URI, an `Asset` or an `AssetAlias` (the events made
    through it) read them."""

    def __init__(self, docs: Iterable[Mapping[str, Any]], loader: Any = None) -> None:
        self._by_uri: dict[str, list[AssetEvent]] = {}
        self._assets: dict[str, Asset] = {}
        self._seen: set[Any] = set()
        self._loader = loader  #: (uri or AssetAlias) -> docs: reads what was not given up front (inlet_events)
        for doc in docs:
            self._add(AssetEvent(doc))

    def _add(self, event: AssetEvent) -> None:
        if event.id is not None and ("n", event.id) in self._seen:
            return
        self._seen.add(("n", event.id))
        uri = str(event.uri)
        self._by_uri.setdefault(uri, []).append(event)
        self._assets.setdefault(uri, event.asset)

    def _load(self, key: Any) -> None:
        if self._loader is not None and ("key", key) not in self._seen:
            self._seen.add(("key", key))
            for doc in self._loader(key):
                self._add(AssetEvent(doc))

    def __getitem__(self, key: Any) -> list[AssetEvent]:
        if isinstance(key, AssetAlias):
            self._load(key)
            found = [e for events in self._by_uri.values() for e in events
                     if any(a.name == key.name for a in e.source_aliases)]
            return sorted(found, key=lambda e: e.id or 0)
        uri = key.uri if isinstance(key, Asset) else str(key)
        self._load(uri)
        return list(self._by_uri.get(uri, []))

    def for_asset(self, name: str | None = None, uri: str | None = None) -> list[AssetEvent]:
        return self[uri or name]

    for_dataset = for_asset

    def for_asset_alias(self, name: str) -> list[AssetEvent]:
        return self[AssetAlias(name)]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._assets[u] for u in self._by_uri if u in self._assets)

    def __len__(self) -> int:
        return len(self._assets)

    def __repr__(self) -> str:
        return repr({uri: events for uri, events in self._by_uri.items()})


def _jsonable(value: Any) -> Any:
    import json

    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=str))


__all__ = ["Asset", "AssetAlias", "AssetAll", "AssetAny", "AssetEvent", "AssetEvents", "AssetOrTimeSchedule",
           "Dataset", "DatasetAlias", "DatasetAll", "DatasetAny", "Metadata", "OutletEvents", "aliases_in",
           "assets_in", "condition_doc", "condition_text", "is_asset_schedule", "outlet_event_docs"]
