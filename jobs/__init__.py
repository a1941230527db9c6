"""Slidecast's one Django app, split by domain (see docs/architecture.md).

queueing.py holds the procrastinate app, queue names and deferring by task name; each domain
package holds its models, services, selectors and tasks; api/, web/, admin/ and management/
only translate between people or programs and the services.
"""
