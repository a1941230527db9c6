"""Webhooks in and out: signing, delivery with retries, inbound events from other systems."""
