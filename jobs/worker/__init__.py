"""What runs inside a worker process: the task middleware, time limits, the in-process worker."""
