"""The task that delivers outbound webhooks (inbound events are processed by jobs.ads.tasks)."""

from __future__ import annotations

from django.conf import settings
from procrastinate import JobContext

from jobs import queueing
from jobs.integrations import webhooks
from jobs.queueing import RunLimitedRetry, app

WEBHOOK_RETRY = RunLimitedRetry(
    runs=settings.WEBHOOKS["MAX_ATTEMPTS"],
    exponential_wait=settings.WEBHOOKS["RETRY_BASE_SECONDS"],
    retry_exceptions={webhooks.WebhookDeliveryFailed},
)


@app.task(name=queueing.DELIVER_WEBHOOK, queue=queueing.CPU, pass_context=True, retry=WEBHOOK_RETRY)
def deliver_webhook(context: JobContext, *, delivery_id: int) -> None:
    webhooks.deliver(delivery_id, final_attempt=WEBHOOK_RETRY.is_last_run(context.job))
