"""Running the queues: pause and resume, queue-job actions, dead letters, rescue of stalled jobs,
cleanup, alerts, monitoring (the dashboard's reads), the worker registry and resource samples."""
