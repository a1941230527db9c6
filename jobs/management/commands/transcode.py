"""`manage.py transcode talk.mp4 --codec vp9 --aspect 9:16`, or `--hls` for a streaming ladder."""

from __future__ import annotations

from django.core.management.base import CommandParser

from jobs.management.media_command import MediaCommand


class Command(MediaCommand):
    help = "Transcode a video (H.264, H.265, VP9, AV1; presets, aspect) or make an HLS ladder."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--codec", choices=["h264", "h265", "vp9", "av1"], default="h264")
        parser.add_argument("--resolution", choices=["720p", "1080p", "4k"])
        parser.add_argument("--aspect", choices=["source", "16:9", "9:16", "1:1"], default="source")
        parser.add_argument("--background", default="blur", help="blur, black, white or #RRGGBB")
        parser.add_argument("--quality", choices=["high", "balanced", "small"], default="balanced")
        parser.add_argument("--frame-rate", type=int, choices=[24, 25, 30, 50, 60])
        parser.add_argument(
            "--hls", action="store_true", help="an HLS ladder (master playlist) instead"
        )
        parser.add_argument("--cpu-only", action="store_true", help="never use NVENC")

    def operation_for(self, options: dict) -> str:
        return "hls" if options["hls"] else "transcode"

    def parameters(self, options: dict) -> dict:
        if options["hls"]:
            return {}
        return {
            "codec": options["codec"],
            "resolution": options["resolution"],
            "aspect": options["aspect"],
            "background": options["background"],
            "quality": options["quality"],
            "frame_rate": options["frame_rate"],
            "allow_hardware": not options["cpu_only"],
        }
