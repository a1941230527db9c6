"""The operators' dashboard inside the Django admin (staff only, no JavaScript framework)."""

from __future__ import annotations

import time

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from jobs import queueing
from jobs.ads.models import AnalysisRun
from jobs.ads.selectors import analysis_last_runs, crm_unmatched_count
from jobs.media.selectors import media_job_overview
from jobs.operations import monitoring
from jobs.operations import queue_pause as pausing
from jobs.worker.limits import limits_overview

CHART_WIDTH, CHART_HEIGHT = 720, 140


def _chart(series) -> dict:
    """Return the bars of a stacked succeeded/failed per-minute chart, as SVG coordinates."""
    peak = max((ok + bad for _, ok, bad in series), default=0) or 1
    slot = CHART_WIDTH / len(series)
    bars = []
    for index, (minute, ok, bad) in enumerate(series):
        ok_height = CHART_HEIGHT * ok / peak
        bad_height = CHART_HEIGHT * bad / peak
        bars.append(
            {
                "x": round(index * slot + 1, 1),
                "width": round(max(slot - 2, 1), 1),
                "ok_y": round(CHART_HEIGHT - ok_height, 1),
                "ok_height": round(ok_height, 1),
                "bad_y": round(CHART_HEIGHT - ok_height - bad_height, 1),
                "bad_height": round(bad_height, 1),
                "label": f"{minute:%H:%M} · {ok} completed, {bad} failed",
            }
        )
    return {"bars": bars, "peak": peak, "width": CHART_WIDTH, "height": CHART_HEIGHT,
            "completed": sum(ok for _, ok, _ in series), "failed": sum(b for *_, b in series),
            "first": series[0][0], "last": series[-1][0]}  # fmt: skip


def _ads() -> dict:
    """The ads section: each analysis's last run in figures, and the CRM events no ad matched."""
    runs = analysis_last_runs()
    rows = []
    for kind, label in AnalysisRun.Kind.choices:
        run = runs.get(kind)
        figures = (run.summary if run else {}).items()
        line = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in figures if k != "duration_ms")
        rows.append({"kind": kind, "label": label, "run": run, "figures": line})
    return {"runs": rows, "crm_unmatched": crm_unmatched_count()}


def _context(request: HttpRequest) -> dict:
    return {
        **admin.site.each_context(request),
        "title": "Queues and workers",
        "queues": monitoring.queue_overview(),
        "workers": monitoring.worker_overview(),
        "periodic": monitoring.periodic_overview(),
        "samples": monitoring.latest_resource_samples(),
        "incidents": monitoring.open_incidents(),
        "dead_letters_24h": monitoring.dead_letters_since(24),
        "chart": _chart(monitoring.minute_series()),
        "late_seconds": monitoring.LATE_HEARTBEAT_SECONDS,
        "media": media_job_overview(),
        "limits": limits_overview(),
        "ads": _ads(),
    }


@staff_member_required
def oversight_dashboard(request: HttpRequest) -> HttpResponse:
    template = (
        "admin/oversight/_panel.html"
        if request.GET.get("panel")
        else "admin/oversight/dashboard.html"
    )
    response = render(request, template, _context(request))
    response["Cache-Control"] = "no-store"
    return response


@staff_member_required
@require_POST
def queue_pause(request: HttpRequest, queue_name: str) -> HttpResponse:
    pausing.queue_pause(queue_name=queue_name, by=request.user.get_username())
    messages.warning(request, f"Queue {queue_name} is paused: waiting jobs stay waiting.")
    return redirect("oversight-dashboard")


@staff_member_required
@require_POST
def queue_resume(request: HttpRequest, queue_name: str) -> HttpResponse:
    released = pausing.queue_resume(queue_name=queue_name)
    messages.success(request, f"Queue {queue_name} resumed: {released} waiting jobs released.")
    return redirect("oversight-dashboard")


@staff_member_required
@require_POST
def periodic_run_now(request: HttpRequest, task_name: str) -> HttpResponse:
    if task_name not in {periodic.task.name for periodic in queueing.periodic_tasks()}:
        raise Http404("No such periodic task.")
    job_id = queueing.defer(
        task_name, priority=queueing.PRIORITY_MAINTENANCE, timestamp=int(time.time())
    )
    messages.success(request, f"{task_name} queued now (queue job {job_id}).")
    return redirect("oversight-dashboard")
