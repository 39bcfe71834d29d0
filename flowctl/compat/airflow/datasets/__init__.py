"""airflow.datasets: Dataset, Airflow 2's name of Asset."""

from __future__ import annotations

from flowctl.authoring.assets import AssetAlias as DatasetAlias  # noqa: F401
from flowctl.authoring.assets import AssetAll as DatasetAll  # noqa: F401
from flowctl.authoring.assets import AssetAny as DatasetAny  # noqa: F401
from flowctl.authoring.assets import (
    Dataset,  # noqa: F401
    Metadata,  # noqa: F401
)

__all__ = ['Dataset', 'DatasetAll', 'DatasetAny', 'DatasetAlias', 'Metadata']
