"""`manage.py transcribe talk.mp4`: SRT, WebVTT, text and JSON (word timings) beside the file."""

from __future__ import annotations

from django.core.management.base import CommandParser

from jobs.management.media_command import MediaCommand


class Command(MediaCommand):
    help = "Transcribe an audio or video file with Whisper (through the queue)."
    operation = "transcribe"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--language", help="BCP 47 tag of the spoken language; default: detect")

    def parameters(self, options: dict) -> dict:
        return {"language": options["language"]}
