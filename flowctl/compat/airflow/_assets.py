"""Assets (Airflow 3; Datasets in Airflow 2): constructible, not scheduled on yet."""

from __future__ import annotations

from typing import Any


class Asset:
    """An asset a task produces or a DAG waits for. flowctl records nothing of
    it yet: as a task's `outlets` it is ignored (with a warning), as a DAG's
    schedule it is refused."""

    def __init__(self, name: str | None = None, uri: str | None = None, *, group: str = "asset",
                 extra: dict[str, Any] | None = None, watchers: Any = None, **_: Any) -> None:
        self.name = name or uri
        self.uri = uri or name
        self.group = group
        self.extra = dict(extra or {})

    def __or__(self, other: Any) -> AssetAny:
        return AssetAny(self, other)

    def __and__(self, other: Any) -> AssetAll:
        return AssetAll(self, other)

    def __repr__(self) -> str:
        return f"Asset(name={self.name!r}, uri={self.uri!r})"


class AssetAlias:
    def __init__(self, name: str, group: str = "asset") -> None:
        self.name = name


class AssetAny:
    def __init__(self, *objects: Any) -> None:
        self.objects = objects


class AssetAll:
    def __init__(self, *objects: Any) -> None:
        self.objects = objects


class Metadata:
    def __init__(self, asset: Any, extra: dict[str, Any], alias: Any = None) -> None:
        self.asset = asset
        self.extra = extra
