"""airflow.hooks.base_hook (Airflow 1)"""

from __future__ import annotations

from airflow.hooks.base import BaseHook  # noqa: F401

__all__ = ['BaseHook']
