"""What `manage.py transcribe` and `manage.py transcode` share: submit, run, wait, copy out."""

from __future__ import annotations

import logging
import shutil
import sys
import time
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs.access.services import command_line_user
from jobs.media import services
from jobs.media.models import MediaJob
from jobs.worker.inprocess import in_process_worker, live_worker_count


class MediaCommand(BaseCommand):
    operation = ""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("input", type=Path, help="the audio or video file")
        parser.add_argument(
            "-o", "--output-dir", type=Path, help="folder for the results (default: beside input)"
        )
        parser.add_argument("--user", default="cli", help="owner of the job")
        parser.add_argument(
            "--worker",
            choices=["auto", "always", "never"],
            default="auto",
            help="run a worker in this process: auto = only when no worker is running",
        )
        parser.add_argument("--timeout", type=float, default=3 * 3600, help="give up after s")

    def parameters(self, options: dict) -> dict:
        raise NotImplementedError

    def operation_for(self, options: dict) -> str:
        return self.operation

    def handle(self, *args, **options) -> None:
        if options["verbosity"] < 2:
            for name in ("slidecast", "media_pipeline"):
                logging.getLogger(name).setLevel(logging.WARNING)
        source: Path = options["input"]
        if not source.is_file():
            raise CommandError(f"{source} does not exist or is not a file.")
        out_dir = (options["output_dir"] or source.parent).resolve()
        owner = command_line_user(username=options["user"])
        with source.open("rb") as handle:
            try:
                job = services.media_job_create(
                    owner=owner, operation=self.operation_for(options),
                    parameters=self.parameters(options), upload=File(handle, name=source.name),
                    title=source.name,
                )  # fmt: skip
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
        self.stderr.write(f"Media job {job.id} queued on {job.queue} ({job.queue_reason}).")
        if options["worker"] == "always" or (
            options["worker"] == "auto" and live_worker_count() == 0
        ):
            self.stderr.write(f"No worker is running; starting one here (queue: {job.queue}).")
            with in_process_worker(queues=[job.queue]):
                job = self._wait(job, options["timeout"])
        else:
            job = self._wait(job, options["timeout"])
        if job.status != MediaJob.Status.COMPLETED:
            raise CommandError(f"The job ended {job.get_status_display().lower()}: {job.error}")
        stem = source.stem
        for artifact in job.artifacts.all():
            target = out_dir / f"{stem}.{artifact.name.replace('/', '.')}"
            if artifact.kind == "hls_master":
                target = self._copy_folder(job, artifact.name, out_dir / f"{stem}.hls")
            else:
                with default_storage.open(artifact.file.name, "rb") as src, target.open("wb") as f:
                    shutil.copyfileobj(src, f)
            self.stdout.write(f"{artifact.get_kind_display():<38} {target}")
        took = (job.finished_at - job.created_at).total_seconds()
        self.stdout.write(f"{job.media_info.get('duration', 0):.1f} s of media in {took:.1f} s.")

    def _copy_folder(self, job: MediaJob, master: str, target: Path) -> Path:
        folder = master.split("/", 1)[0]
        prefix = f"{job.output_prefix()}/{folder}"

        def copy(remote: str, local: Path) -> None:
            local.mkdir(parents=True, exist_ok=True)
            folders, files = default_storage.listdir(remote)
            for name in files:
                with default_storage.open(f"{remote}/{name}", "rb") as src:
                    (local / name).write_bytes(src.read())
            for sub in folders:
                copy(f"{remote}/{sub}", local / sub)

        copy(prefix, target)
        return target / master.split("/", 1)[1]

    def _wait(self, job: MediaJob, timeout: float) -> MediaJob:
        deadline, last = time.monotonic() + timeout, ""
        while True:
            job.refresh_from_db()
            width = 30
            filled = round(width * job.progress / 100)
            line = f"[{'#' * filled}{'.' * (width - filled)}] {job.progress:3d}% {job.stage}"
            if line != last:
                if sys.stderr.isatty():
                    self.stderr.write(f"\r{line:<80}", ending="")
                    self.stderr.flush()
                else:
                    self.stderr.write(line)
                last = line
            if job.is_finished:
                if sys.stderr.isatty():
                    self.stderr.write("")
                return job
            if time.monotonic() > deadline:
                raise CommandError(f"Gave up after {timeout:g} s; job {job.id} is still running.")
            time.sleep(0.3)
