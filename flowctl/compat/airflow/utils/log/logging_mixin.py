"""airflow.utils.log.logging_mixin"""

from __future__ import annotations

import logging
from typing import Any


class LoggingMixin:
    @property
    def log(self) -> Any:
        return logging.getLogger(f"{type(self).__module__}.{type(self).__name__}")

__all__ = ['LoggingMixin']
