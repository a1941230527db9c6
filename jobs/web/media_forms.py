"""The media upload form: a file, an operation, and the options of that operation."""

from __future__ import annotations

from django import forms

from jobs.media.models import MediaJob

_CODECS = [("h264", "H.264"), ("h265", "H.265 / HEVC"), ("vp9", "VP9 (WebM)"), ("av1", "AV1")]
_RESOLUTIONS = [("", "Same as the input"), ("720p", "720p"), ("1080p", "1080p"), ("4k", "4K")]
_ASPECTS = [("source", "Same as the input"), ("16:9", "16:9 landscape"),
            ("9:16", "9:16 vertical"), ("1:1", "1:1 square")]  # fmt: skip
_RENDITIONS = [("1080p", "1080p"), ("720p", "720p"), ("480p", "480p"), ("360p", "360p")]


class MediaJobForm(forms.Form):
    file = forms.FileField(
        label="Audio or video file",
        widget=forms.ClearableFileInput(attrs={"accept": "audio/*,video/*"}),
    )
    operation = forms.ChoiceField(choices=MediaJob.Operation.choices, label="What to make")
    language = forms.CharField(
        required=False, max_length=20, label="Spoken language (empty: detect)",
        widget=forms.TextInput(attrs={"placeholder": "en, de-DE …", "data-op": "transcribe"}),
    )  # fmt: skip
    codec = forms.ChoiceField(
        choices=_CODECS, initial="h264", widget=forms.Select(attrs={"data-op": "transcode"})
    )
    resolution = forms.ChoiceField(
        choices=_RESOLUTIONS, required=False, widget=forms.Select(attrs={"data-op": "transcode"})
    )
    aspect = forms.ChoiceField(
        choices=_ASPECTS, initial="source", widget=forms.Select(attrs={"data-op": "transcode"})
    )
    quality = forms.ChoiceField(
        choices=[("high", "High"), ("balanced", "Balanced"), ("small", "Small file")],
        initial="balanced", widget=forms.Select(attrs={"data-op": "transcode"}),
    )  # fmt: skip
    renditions = forms.MultipleChoiceField(
        choices=_RENDITIONS, initial=["1080p", "720p", "480p", "360p"], required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"data-op": "hls"}),
    )  # fmt: skip
    poster_at = forms.FloatField(
        required=False, min_value=0, label="Poster at second (empty: first non-blank frame)",
        widget=forms.NumberInput(attrs={"data-op": "preview", "step": "0.1"}),
    )  # fmt: skip

    def parameters(self) -> dict:
        """The chosen operation's options, as jobs.media.parameters reads them."""
        data = self.cleaned_data
        operation = data["operation"]
        if operation == MediaJob.Operation.TRANSCRIBE:
            return {"language": data["language"] or None}
        if operation == MediaJob.Operation.TRANSCODE:
            return {
                "codec": data["codec"],
                "resolution": data["resolution"] or None,
                "aspect": data["aspect"],
                "quality": data["quality"],
            }
        if operation == MediaJob.Operation.HLS:
            return {"renditions": data["renditions"] or ["720p"]}
        return {"poster_at": data["poster_at"]}
