"""The API itself: its description, token auth by default, error handlers, and its routers."""

from __future__ import annotations

from ninja import NinjaAPI

from jobs.api import ads, batches, jobs, knowledge, media, personas, system, webhooks
from jobs.api.auth import TokenAuth
from jobs.api.errors import install_error_handlers

DESCRIPTION = """
Turn PowerPoint decks into narrated, captioned videos.

**Authentication**: send a personal token as `Authorization: Bearer sc_…`. Create one in the
admin (API tokens) or with `python manage.py create_api_token USERNAME`; it is shown once.
Each token may make a limited number of requests a minute; over it the answer is 429 with
`Retry-After`.

**Errors** always have the shape `{"error": {"code": "...", "message": "...", "details": [...]}}`.

**Webhooks**: a job created with a `callback_url` gets a POST when it completes or fails.
The body is `{"id", "type": "job.completed" | "job.failed", "created_at", "data": {"job"}}`
and the header `Slidecast-Signature: t=<unix seconds>,v1=<hex>`, where the hex is the
HMAC-SHA256 of `<t>.<raw body>` keyed with your secret (`GET /api/webhooks/secret`). Check
that the HMAC matches (constant-time) and that `t` is within 5 minutes of now.

**Ads** (`/api/ads/…`): your campaigns and the ads that run your videos, their daily results
(send them as JSON rows or a CSV file; each row is stored or refused on its own), fatigue
findings, winning ads and "winners like this" search, and budget suggestions to accept or
reject. Money is a decimal string in the campaign's currency (`"150.00"`; spend and revenue
with 4 decimals); rates and ratios are numbers.
"""


api = NinjaAPI(
    title="Slidecast API",
    version="1.0",
    description=DESCRIPTION,
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    auth=TokenAuth(),
)
install_error_handlers(api)
api.add_router("/jobs", jobs.jobs_router)
api.add_router("/personas", personas.personas_router)
api.add_router("/personas", knowledge.knowledge_router)
api.add_router("/media", media.media_router)
api.add_router("/batches", batches.batches_router)
api.add_router("/ads", ads.ads_router)
api.add_router("/webhooks", webhooks.webhooks_router)
api.add_router("/system", system.system_router)
