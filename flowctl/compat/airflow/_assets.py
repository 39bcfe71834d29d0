"""Assets (Airflow 3; Datasets in Airflow 2): flowctl's own (flowctl.authoring.assets)."""

from __future__ import annotations

from flowctl.authoring.assets import (  # noqa: F401
    Asset,
    AssetAlias,
    AssetAll,
    AssetAny,
    AssetOrTimeSchedule,
    Dataset,
    Metadata,
)
