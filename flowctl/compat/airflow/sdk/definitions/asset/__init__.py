"""airflow.sdk.definitions.asset"""

from __future__ import annotations

from airflow._assets import Asset, AssetAlias, AssetAll, AssetAny  # noqa: F401

__all__ = ['Asset', 'AssetAlias', 'AssetAll', 'AssetAny']
