"""The ads tasks: CRM deliveries as they arrive, and the periodic analyses."""

from __future__ import annotations

from procrastinate import JobContext

from jobs import queueing
from jobs.ads import budgets, crm, fatigue, winners
from jobs.integrations.inbound import inbound_event_fail
from jobs.queueing import RETRY, app


@app.task(name=queueing.PROCESS_INBOUND_EVENT, queue=queueing.CPU, retry=RETRY, pass_context=True)
def process_inbound_event(context: JobContext, *, event_id: int) -> None:
    try:
        crm.crm_delivery_process(inbound_event_id=event_id)
    except Exception as exc:
        # Events already logged stay; the delivery shows why the rest never will be.
        if RETRY.is_last_run(context.job):
            inbound_event_fail(event_id=event_id, error=f"Processing failed: {exc}")
        raise


@app.periodic(cron="0 */6 * * *")
@app.task(name=queueing.ADS_FATIGUE, **queueing.MAINTENANCE)
def ads_fatigue(timestamp: int) -> None:
    fatigue.fatigue_pass()


@app.periodic(cron="30 */12 * * *")
@app.task(name=queueing.ADS_WINNERS, **queueing.MAINTENANCE)
def ads_winners(timestamp: int) -> None:
    winners.winners_pass()


@app.periodic(cron="0 5 * * *")
@app.task(name=queueing.ADS_BUDGETS, **queueing.MAINTENANCE)
def ads_budgets(timestamp: int) -> None:
    budgets.budget_suggestions_pass()
