"""Pipeline exceptions. `permanent` says whether trying again could help."""

from __future__ import annotations


class PipelineError(Exception):
    """Root of every error the pipeline raises on purpose; the message is meant for users."""

    permanent = False
    code = "pipeline_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidDeckError(PipelineError):
    """The upload is not a deck we can process; the same file will always fail."""

    permanent = True
    code = "invalid_deck"


class DeckRenderError(PipelineError):
    """LibreOffice or poppler failed or timed out on a deck that passed validation."""

    code = "render_failed"


class RenderLimitError(DeckRenderError):
    """The renderer was stopped by its memory or file-size limit: the deck needs too much."""

    permanent = True
    code = "render_limit"


class SlideCountMismatchError(DeckRenderError):
    """LibreOffice rendered a different number of slides than the deck shows: every time."""

    permanent = True
    code = "render_mismatch"


class ModelNotFoundError(PipelineError):
    """A voice or speech-recognition model is not installed where the settings point."""

    permanent = True
    code = "model_not_found"


class SpeechSynthesisError(PipelineError):
    code = "speech_failed"


class UnsupportedEngineError(PipelineError):
    permanent = True
    code = "unsupported_engine"


class VoiceUnavailableError(PipelineError):
    """The persona's voice cannot be used (a cloning voice without its recording)."""

    permanent = True
    code = "voice_unavailable"


class ToolMissingError(PipelineError):
    """A system program (ffmpeg, soffice, pdftoppm) is not installed."""

    permanent = True
    code = "tool_missing"


class VideoAssemblyError(PipelineError):
    code = "assembly_failed"


class TimeLimitReached(PipelineError):
    """A step ran into its time limit and stopped; the same input would take as long again."""

    permanent = True
    code = "time_limit"


class InvalidMediaError(PipelineError):
    """An uploaded audio or video file that cannot be processed: empty, not media, cut short,
    or over a limit. The same file always fails."""

    permanent = True
    code = "invalid_media"


class MediaProcessingError(PipelineError):
    """ffmpeg or Whisper failed on media that passed the probe; another run may succeed."""

    code = "media_failed"


class EncoderUnavailableError(PipelineError):
    """The requested codec has no encoder in this host's ffmpeg (or no GPU for NVENC)."""

    permanent = True
    code = "encoder_unavailable"
