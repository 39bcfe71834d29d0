"""airflow.sensors: Airflow 2 (and Airflow 1) sensor paths."""

from __future__ import annotations

from airflow._lazy import submodule_getattr

__getattr__ = submodule_getattr(__name__)
