"""airflow.utils.decorators: apply_defaults (Airflow 1), now a no-op as in Airflow 2."""

from __future__ import annotations

from typing import Any


def apply_defaults(func: Any) -> Any:
    return func

__all__ = ['apply_defaults']
