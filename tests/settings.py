"""Test settings: the project's own, with short retry waits so retry tests finish quickly."""

import os

os.environ.setdefault("SLIDECAST_TASK_RETRY_BASE_SECONDS", "1")
os.environ.setdefault("SLIDECAST_LOG_LEVEL", "WARNING")
os.environ.setdefault("SLIDECAST_WEBHOOK_RETRY_BASE_SECONDS", "1")
# Previews of finished narrations are queued only where a test asks for them.
os.environ.setdefault("SLIDECAST_AUTO_PREVIEW", "0")
os.environ.setdefault("SLIDECAST_INBOUND_WEBHOOK_SECRETS", "hubspot=hs-secret,crm=crm-secret")

from project.settings import *  # noqa: E402,F403

# 4xx answers are the point of many tests; their warning lines would drown the output.
LOGGING["loggers"]["django.request"] = {"level": "ERROR"}  # noqa: F405
