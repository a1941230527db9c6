"""Who may call the API: hashed tokens, per-token rate limits, idempotency keys."""
