"""airflow.utils.helpers (Airflow 1 home of chain)"""

from __future__ import annotations

from flowctl.authoring.dag import chain, cross_downstream  # noqa: F401

__all__ = ['chain', 'cross_downstream']
