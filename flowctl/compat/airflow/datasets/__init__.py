"""airflow.datasets: Dataset, Airflow 2's name of Asset."""

from __future__ import annotations

from airflow._assets import Asset as Dataset  # noqa: F401
from airflow._assets import AssetAlias as DatasetAlias  # noqa: F401
from airflow._assets import AssetAll as DatasetAll  # noqa: F401
from airflow._assets import AssetAny as DatasetAny  # noqa: F401

__all__ = ['Dataset', 'DatasetAll', 'DatasetAny', 'DatasetAlias']
