"""JSON log lines that carry the Slidecast and procrastinate job ids of the task writing them."""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime

task_log_context: contextvars.ContextVar[dict[str, object] | None] = contextvars.ContextVar(
    "slidecast_task_log_context", default=None
)

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class TaskContextFilter(logging.Filter):
    """Copy the running task's ids onto every record (set by jobs.middleware)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (task_log_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then any extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


# When the running task really started: after any wait for its family's slot. Time limits
# count from here, so a task that queued for a slot is not charged for the wait.
task_run_started: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "task_run_started", default=None
)
