"""Test settings: the project's own, with short retry waits so retry tests finish quickly."""

import os

os.environ.setdefault("SLIDECAST_TASK_RETRY_BASE_SECONDS", "1")
os.environ.setdefault("SLIDECAST_LOG_LEVEL", "WARNING")

from project.settings import *  # noqa: E402,F403
