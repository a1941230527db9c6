"""The web pages for people: job list, upload form, job page, files, and the health endpoints."""
