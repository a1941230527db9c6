"""The REST API (django-ninja): one router module per domain, its schemas beside it.

A router validates, calls a service or selector, and serializes; errors.py turns exceptions into
the one error shape every 4xx has."""
