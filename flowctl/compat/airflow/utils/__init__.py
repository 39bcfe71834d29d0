"""airflow.utils: the helpers DAG files import."""

from __future__ import annotations

from airflow._lazy import submodule_getattr

__getattr__ = submodule_getattr(__name__)
