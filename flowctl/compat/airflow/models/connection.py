"""airflow.models.connection"""

from __future__ import annotations

from flowctl.connections import Connection  # noqa: F401

__all__ = ['Connection']
