"""airflow.utils.types: run types."""

from __future__ import annotations

from enum import StrEnum


class DagRunType(StrEnum):
    BACKFILL_JOB = "backfill"
    SCHEDULED = "scheduled"
    MANUAL = "manual"
    ASSET_TRIGGERED = "asset_triggered"
    DATASET_TRIGGERED = "dataset_triggered"


class ArgNotSet:
    pass


NOTSET = ArgNotSet()

__all__ = ['DagRunType', 'NOTSET', 'ArgNotSet']
