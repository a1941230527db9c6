"""Outbound webhooks to a receiver written from the README, and verified inbound events."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from jobs.access.services import api_token_create
from jobs.ads.crm import crm_delivery_process
from jobs.models import InboundEvent, Job, WebhookDelivery
from jobs.narration import progress

pytestmark = pytest.mark.django_db(transaction=True)


class Receiver:
    """An HTTP endpoint that verifies signatures the way the README tells receivers to."""

    def __init__(self, secret_source, fail_first: int = 0) -> None:
        self.secret_source = secret_source
        self.fail_first = fail_first
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(
                    {"headers": dict(self.headers), "body": body,
                     "valid": receiver.verify(self.headers["Slidecast-Signature"], body)}
                )  # fmt: skip
                failing = len(receiver.requests) <= receiver.fail_first
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/slidecast"

    def verify(self, header: str, body: bytes) -> bool:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        if abs(time.time() - timestamp) > 300:
            return False
        expected = hmac.new(
            self.secret_source().encode(), f"{timestamp}.".encode() + body, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(expected, parts["v1"])


@pytest.fixture
def allow_local_receivers(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "ALLOW_PRIVATE_ADDRESSES": True}


def test_completion_event_is_signed_and_retried_until_accepted(
    client, user, persona, run_worker, allow_local_receivers
):
    token = api_token_create(user=user, name="t")[1]
    secret = client.get("/api/webhooks/secret", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    receiver = Receiver(lambda: secret["secret"], fail_first=2)
    job = Job.objects.create(
        owner=user, title="t.pptx", persona=persona, status=Job.Status.ASSEMBLING_VIDEO,
        callback_url=receiver.url,
    )  # fmt: skip
    progress.job_complete(job_id=str(job.id), video_name="v.mp4", srt_name="c.srt",
                          vtt_name="c.vtt", duration_seconds=12.0)  # fmt: skip

    from jobs.worker.inprocess import in_process_worker

    delivery = WebhookDelivery.objects.get(job=job)
    with in_process_worker(queues=["cpu"], concurrency=1):
        deadline = time.monotonic() + 30
        while delivery.status == WebhookDelivery.Status.PENDING and time.monotonic() < deadline:
            time.sleep(0.2)
            delivery.refresh_from_db()

    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert [a.status_code for a in delivery.attempts.all()] == [500, 500, 204]
    assert all(request["valid"] for request in receiver.requests)
    event = json.loads(receiver.requests[-1]["body"])
    assert event["type"] == "job.completed" and event["data"]["job"]["id"] == str(job.id)
    assert event["data"]["job"]["artifacts"]["video"].endswith("/artifacts/video")
    assert receiver.requests[-1]["headers"]["Slidecast-Event-Id"] == event["id"]
    receiver.server.shutdown()


def test_failure_event_to_a_refused_address_is_not_retried(user, persona, run_worker, settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "ALLOW_PRIVATE_ADDRESSES": True}
    job = Job.objects.create(owner=user, title="t.pptx", persona=persona,
                             callback_url="http://127.0.0.1:9/never")  # fmt: skip
    settings.WEBHOOKS = {**settings.WEBHOOKS, "ALLOW_PRIVATE_ADDRESSES": False}
    progress.job_fail(job_id=str(job.id), message="The deck has no slides.", code="invalid_deck")
    delivery = WebhookDelivery.objects.get(job=job)
    assert delivery.event_type == "job.failed"
    assert delivery.payload["data"]["job"]["error"]["message"] == "The deck has no slides."
    from jobs.integrations.webhooks import deliver

    assert deliver(delivery.id, final_attempt=False) is False
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert "private or loopback" in delivery.attempts.get().error


def test_redeliver_from_the_admin(client, user, persona, django_user_model, allow_local_receivers):
    receiver = Receiver(lambda: "unused")
    job = Job.objects.create(owner=user, title="t.pptx", persona=persona, callback_url=receiver.url)
    progress.job_fail(job_id=str(job.id), message="x", code="internal_error")
    delivery = WebhookDelivery.objects.get(job=job)
    WebhookDelivery.objects.filter(id=delivery.id).update(status="failed")
    admin = django_user_model.objects.create_superuser("ops", "o@example.com", "ops-pass-1")
    client.force_login(admin)
    client.post(reverse("admin:jobs_webhookdelivery_changelist"),
                {"action": "redeliver", "_selected_action": [delivery.id], "index": 0})  # fmt: skip
    delivery.refresh_from_db()
    from procrastinate.contrib.django.models import ProcrastinateJob

    assert delivery.status == "pending"
    queued = ProcrastinateJob.objects.filter(
        task_name="slidecast.deliver_webhook", args__delivery_id=delivery.id, status="todo"
    )
    assert queued.count() == 2  # the first delivery and the redelivery
    receiver.server.shutdown()


def _signed(secret: str, body: bytes) -> str:
    timestamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def test_inbound_event_is_verified_stored_once_and_processed(client):
    body = json.dumps({"id": "evt_1", "type": "deal.updated", "amount": 1200}).encode()
    headers = {"HTTP_SLIDECAST_SIGNATURE": _signed("crm-secret", body)}
    first = client.post("/api/webhooks/crm", body, content_type="application/json", **headers)
    assert first.status_code == 202 and first.json() == {"status": "accepted", "event_id": "evt_1"}
    replay = client.post("/api/webhooks/crm", body, content_type="application/json", **headers)
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    event = InboundEvent.objects.get()
    assert event.body == body.decode() and event.status == "received"
    crm_delivery_process(inbound_event_id=event.id)
    event.refresh_from_db()
    assert event.status == "processed" and event.processed_at
    assert event.crm_items.get().outcome == "ignored"  # "deal.updated" is no conversion

    forged = client.post("/api/webhooks/crm", body, content_type="application/json",
                         HTTP_SLIDECAST_SIGNATURE=_signed("wrong", body))  # fmt: skip
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "bad_signature"
    stale = client.post(
        "/api/webhooks/crm", body, content_type="application/json",
        HTTP_SLIDECAST_SIGNATURE="t=1000," + _signed("crm-secret", body).split(",")[1],
    )  # fmt: skip
    assert stale.status_code == 401
    unknown = client.post("/api/webhooks/nobody", body, content_type="application/json")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_source"


def test_hubspot_v3_signature_is_verified(client):
    body = json.dumps([{"eventId": 101, "subscriptionType": "deal.creation"},
                       {"eventId": 102, "subscriptionType": "deal.creation"}]).encode()  # fmt: skip
    timestamp = str(int(time.time() * 1000))
    uri = "http://testserver/api/webhooks/hubspot"
    message = b"POST" + uri.encode() + body + timestamp.encode()
    signature = base64.b64encode(hmac.new(b"hs-secret", message, hashlib.sha256).digest()).decode()
    response = client.post(
        "/api/webhooks/hubspot", body, content_type="application/json",
        HTTP_X_HUBSPOT_SIGNATURE_V3=signature, HTTP_X_HUBSPOT_REQUEST_TIMESTAMP=timestamp,
    )  # fmt: skip
    assert response.status_code == 202 and response.json()["event_id"] == "101,102"
    tampered = client.post(
        "/api/webhooks/hubspot", body + b" ", content_type="application/json",
        HTTP_X_HUBSPOT_SIGNATURE_V3=signature, HTTP_X_HUBSPOT_REQUEST_TIMESTAMP=timestamp,
    )  # fmt: skip
    assert tampered.status_code == 401
