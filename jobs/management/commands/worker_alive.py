"""Container healthcheck of a worker: a worker on this host sent a heartbeat recently."""

import socket

from django.core.management.base import BaseCommand, CommandError

from jobs.operations.monitoring import worker_overview


class Command(BaseCommand):
    help = "Exit 0 when a procrastinate worker on this host has a fresh heartbeat."

    def handle(self, *args, **options) -> None:
        host = socket.gethostname()
        fresh = [w for w in worker_overview() if w.hostname == host and not w.late]
        if not fresh:
            raise CommandError(f"No worker on {host} sent a heartbeat in the last 30 s.")
        self.stdout.write(f"{len(fresh)} worker(s) alive on {host}.")
