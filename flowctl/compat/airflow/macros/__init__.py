"""airflow.macros: what `{{ macros.* }}` holds, importable."""

from __future__ import annotations

import json  # noqa: F401
import random  # noqa: F401
import time  # noqa: F401
import uuid  # noqa: F401
from datetime import datetime, timedelta  # noqa: F401

import dateutil  # noqa: F401

from flowctl.runtime.templating import datetime_diff_for_humans, ds_add, ds_format  # noqa: F401

__all__ = ['ds_add', 'ds_format', 'datetime_diff_for_humans', 'datetime', 'timedelta', 'time', 'uuid', 'random', 'json', 'dateutil']
