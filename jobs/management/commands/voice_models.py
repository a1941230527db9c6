"""`manage.py voice_models fetch xtts`: download a voice model, checked; `verify`; `list`.

Only this command downloads models, and only when a person runs it: workers never do.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs.personas.voice_models import (
    VOICE_MODELS,
    VoiceModel,
    voice_model_dir,
    voice_model_fetch,
    voice_model_manifest,
    voice_model_missing,
    voice_model_verify,
)
from media_pipeline.model_download import HUGGINGFACE_ENDPOINT, MANIFEST_NAME, ModelDownloadError


class Command(BaseCommand):
    help = "Fetch (checksum-verified), verify or list the voice models workers load."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        fetch = actions.add_parser("fetch", help="download a model into its folder, verified")
        fetch.add_argument("model", choices=sorted(VOICE_MODELS))
        _target_argument(fetch)
        fetch.add_argument(
            "--force", action="store_true", help="download every file again, even verified ones"
        )
        fetch.add_argument("--revision", help="the repository revision (default: the pinned one)")
        fetch.add_argument(
            "--endpoint",
            default=HUGGINGFACE_ENDPOINT,
            help="the Hugging Face Hub's address, or a mirror's (default: %(default)s)",
        )
        fetch.add_argument(
            "--sha256",
            action="append",
            default=[],
            metavar="NAME=HEX",
            help="require this SHA-256 for a file (repeatable), e.g. model.pth=<64 hex digits>",
        )
        verify = actions.add_parser("verify", help="check a fetched model's folder, offline")
        verify.add_argument("model", choices=sorted(VOICE_MODELS))
        _target_argument(verify)
        actions.add_parser("list", help="the models, their folders, and whether they are there")

    def handle(self, *args, action: str, **options) -> None:
        if action == "list":
            self.list_models()
            return
        model = VOICE_MODELS[options["model"]]
        target = voice_model_dir(model, options["target"])
        if target is None:
            raise CommandError(f"Set {model.setting} or pass --target.")
        if action == "fetch":
            self.fetch(model, target, options)
        else:
            self.verify(model, target)

    def fetch(self, model: VoiceModel, target: Path, options: dict) -> None:
        pins = dict(_pin(text) for text in options["sha256"])
        try:
            manifest = voice_model_manifest(
                model, revision=options["revision"], endpoint=options["endpoint"], sha256_pins=pins
            )
            self.stdout.write(f"{manifest.name} from {manifest.source}\ninto {target}")
            self.stdout.write(model.license)
            voice_model_fetch(
                manifest=manifest,
                target_dir=target,
                force=options["force"],
                progress=Progress(self),
            )
        except ModelDownloadError as exc:
            raise CommandError(exc.message) from exc
        except OSError as exc:  # the folder cannot be made or written
            raise CommandError(f"Could not write the model into {target}: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"Verified and stored in {target}:"))
        self.stdout.write((target / MANIFEST_NAME).read_text().rstrip())
        self.stdout.write(
            f"Check it again offline with: manage.py voice_models verify {model.name} "
            f"--target {target}\nWorkers load it when {model.setting}={target}."
        )

    def verify(self, model: VoiceModel, target: Path) -> None:
        problems = voice_model_verify(model, target)
        if problems:
            raise CommandError(
                f"{model.title} in {target} is not usable:\n  " + "\n  ".join(problems)
            )
        self.stdout.write(self.style.SUCCESS(f"{model.title} in {target}: every file verified."))

    def list_models(self) -> None:
        for model in VOICE_MODELS.values():
            folder = voice_model_dir(model)
            if folder is None:
                where, state = f"no folder ({model.setting} is not set)", "not installed"
            else:
                missing = voice_model_missing(model, folder)
                where = str(folder)
                state = f"missing {', '.join(missing)}" if missing else "present"
            self.stdout.write(f"{model.name}\t{model.title}\t{where}\t{state}")


class Progress:
    """Prints a line per tenth of each file, so a long download shows it is moving."""

    def __init__(self, command: BaseCommand) -> None:
        self.command = command
        self.shown: dict[str, int] = {}

    def __call__(self, name: str, received: int, total: int | None) -> None:
        step = received * 10 // total if total else received // (100 * 1024 * 1024)
        if self.shown.get(name) == step:
            return
        self.shown[name] = step
        amount = _size(received)
        self.command.stdout.write(
            f"  {name}: {amount} of {_size(total)}" if total else f"  {name}: {amount}"
        )


def _size(count: int) -> str:
    if count < 1000:
        return f"{count} bytes"
    return f"{count / 1e6:,.1f} MB" if count >= 1e6 else f"{count / 1e3:,.1f} kB"


def _target_argument(parser: CommandParser) -> None:
    parser.add_argument(
        "--target", help="the model's folder (default: the workers' setting, e.g. "
        "SLIDECAST_XTTS_MODEL_DIR)",
    )  # fmt: skip


def _pin(text: str) -> tuple[str, str]:
    name, sep, digest = text.partition("=")
    if not sep or not name or not digest:
        raise CommandError(f"--sha256 takes NAME=HEX, not {text!r}.")
    return name, digest
