"""`manage.py narrate deck.pptx -o video.mp4`: one deck through the queue, with a progress bar.

The deck may be a .pptx, a PDF or an .odp; `--notes FILE` gives notes from a file instead.
"""

from __future__ import annotations

import contextlib
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
from jobs.narration import services
from jobs.narration.models import Job
from jobs.personas.models import Persona
from jobs.personas.selectors import persona_choices
from jobs.speech import speech_engines
from jobs.worker.inprocess import in_process_worker, live_worker_count
from media_pipeline.deck_kinds import DECK_SUFFIXES

CLI_USERNAME = "cli"


class Command(BaseCommand):
    help = (
        "Turn a deck (.pptx, .pdf or .odp) into a narrated MP4 with SRT and WebVTT captions "
        "and a WebVTT chapters track."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("deck", type=Path, help="the .pptx, .pdf or .odp file")
        parser.add_argument(
            "--notes",
            type=Path,
            help="speaker notes from a file instead of the deck: .txt (entries separated by "
            "lines holding only ---) or .json (a list of strings or of {page, notes} objects)",
        )
        parser.add_argument(
            "-o", "--output", type=Path, help="where to write the MP4 (default: DECK.mp4)"
        )
        parser.add_argument("--persona", help="persona name (default: the first active one)")
        parser.add_argument(
            "--resolution",
            choices=[choice for choice, _ in Job.Resolution.choices],
            default=Job.Resolution.FULL_HD,
        )
        parser.add_argument("--padding", type=float, default=0.5, help="seconds after each slide")
        parser.add_argument(
            "--empty-slide-seconds",
            type=float,
            default=3.0,
            help="how long slides without notes stay on screen",
        )
        parser.add_argument(
            "--priority",
            choices=["high", "normal", "background"],
            default="normal",
            help="workers take higher priorities first",
        )
        parser.add_argument("--user", default=CLI_USERNAME, help="owner of the job")
        parser.add_argument(
            "--worker",
            choices=["auto", "always", "never"],
            default="auto",
            help="run a worker in this process: auto = only when no worker is running",
        )
        parser.add_argument("--timeout", type=float, default=3600, help="give up after seconds")

    def handle(self, *args, **options) -> None:
        if options["verbosity"] < 2:
            # Progress goes to the bar; log lines between its redraws would only garble it.
            for name in ("slidecast", "media_pipeline"):
                logging.getLogger(name).setLevel(logging.WARNING)
        deck: Path = options["deck"]
        if not deck.is_file():
            raise CommandError(f"{deck} does not exist or is not a file.")
        if deck.suffix.lower() not in DECK_SUFFIXES:
            raise CommandError(f"{deck} is not a .pptx, .pdf or .odp file.")
        notes: Path | None = options["notes"]
        if notes is not None and not notes.is_file():
            raise CommandError(f"{notes} does not exist or is not a file.")
        output: Path = (options["output"] or deck.with_suffix(".mp4")).resolve()
        persona = self._persona(options["persona"])
        owner = self._owner(options["user"])
        with contextlib.ExitStack() as files:
            handle = files.enter_context(deck.open("rb"))
            notes_file = None
            if notes is not None:
                notes_file = File(files.enter_context(notes.open("rb")), name=notes.name)
            try:
                job = services.job_create(
                    owner=owner,
                    deck=File(handle, name=deck.name),
                    title=deck.name,
                    persona=persona,
                    resolution=options["resolution"],
                    padding_seconds=options["padding"],
                    empty_slide_seconds=options["empty_slide_seconds"],
                    priority=Job.Priority[options["priority"].upper()],
                    notes=notes_file,
                )
            except ValidationError as exc:
                problems = "; ".join(
                    f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items()
                )
                raise CommandError(f"The job's options are not valid: {problems}") from exc
        self.stderr.write(f"Job {job.id} queued.")
        run_worker = options["worker"] == "always" or (
            options["worker"] == "auto" and live_worker_count() == 0
        )
        if run_worker:
            queues = sorted({"cpu", speech_engines().queue_for(persona.tts_engine)})
            self.stderr.write(
                f"No worker is running; starting one here (queues: {', '.join(queues)})."
            )
            with in_process_worker(queues=queues):
                job = self._wait(job, options["timeout"])
        else:
            job = self._wait(job, options["timeout"])
        if job.status != Job.Status.COMPLETED:
            raise CommandError(f"The job ended {job.get_status_display().lower()}: {job.error}")
        for warning in job.warnings:
            self.stderr.write(f"Warning: {warning}")
        paths = self._copy_outputs(job, output)
        self.stdout.write(f"Video:    {paths[0]}")
        self.stdout.write(f"Captions: {paths[1]}")
        self.stdout.write(f"          {paths[2]}")
        if len(paths) > 3:
            self.stdout.write(f"Chapters: {paths[3]}")
        self.stdout.write(
            f"{job.slide_count} slides, {job.duration_seconds:.1f} s of video, "
            f"made in {(job.finished_at - job.created_at).total_seconds():.1f} s."
        )

    def _persona(self, name: str | None) -> Persona:
        active = persona_choices()
        if name:
            persona = active.filter(name=name).first()
            if persona is None:
                names = ", ".join(active.values_list("name", flat=True)) or "none"
                raise CommandError(f"No active persona named {name!r}. Active personas: {names}.")
            return persona
        persona = active.order_by("id").first()
        if persona is None:
            raise CommandError("There is no active persona. Create one in the admin.")
        return persona

    def _owner(self, username: str):
        return command_line_user(username=username)

    def _wait(self, job: Job, timeout: float) -> Job:
        deadline = time.monotonic() + timeout
        last_line = ""
        while True:
            job.refresh_from_db()
            line = self._progress_line(job)
            if line != last_line:
                self._show(line)
                last_line = line
            if job.is_finished:
                if sys.stderr.isatty():
                    self.stderr.write("")
                return job
            if time.monotonic() > deadline:
                raise CommandError(f"Gave up after {timeout:g} s; job {job.id} is still running.")
            time.sleep(0.3)

    def _progress_line(self, job: Job) -> str:
        width = 30
        filled = round(width * job.progress / 100)
        detail = job.get_status_display()
        if job.status == Job.Status.SYNTHESIZING_AUDIO and job.slide_count:
            done = job.slides.filter(status="narrated").count()
            detail += f" ({done}/{job.slide_count} slides)"
        return f"[{'#' * filled}{'.' * (width - filled)}] {job.progress:3d}% {detail}"

    def _show(self, line: str) -> None:
        if sys.stderr.isatty():
            self.stderr.write(f"\r{line:<80}", ending="")
            self.stderr.flush()
        else:
            self.stderr.write(line)

    def _copy_outputs(self, job: Job, output: Path) -> list[Path]:
        output.parent.mkdir(parents=True, exist_ok=True)
        targets = [output, output.with_suffix(".srt"), output.with_suffix(".vtt")]
        stored_files = [job.video, job.captions_srt, job.captions_vtt]
        if job.chapters_vtt:
            targets.append(output.with_suffix(".chapters.vtt"))
            stored_files.append(job.chapters_vtt)
        for stored, target in zip(stored_files, targets, strict=True):
            with default_storage.open(stored.name, "rb") as source, target.open("wb") as out:
                shutil.copyfileobj(source, out)
        return targets
