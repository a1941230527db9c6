"""Which PostgreSQL text search configuration stems a persona's language."""

from __future__ import annotations

# The snowball stemmers of every PostgreSQL from 13 on; other languages match word for word.
_CONFIGS = {
    "ar": "arabic", "da": "danish", "de": "german", "el": "greek", "en": "english",
    "es": "spanish", "fi": "finnish", "fr": "french", "ga": "irish", "hu": "hungarian",
    "id": "indonesian", "it": "italian", "lt": "lithuanian", "nb": "norwegian",
    "ne": "nepali", "nl": "dutch", "nn": "norwegian", "no": "norwegian", "pt": "portuguese",
    "ro": "romanian", "ru": "russian", "sv": "swedish", "ta": "tamil", "tr": "turkish",
}  # fmt: skip


def text_search_config(language: str) -> str:
    """The configuration for a BCP 47 tag such as de-DE; 'simple' where none stems it."""
    return _CONFIGS.get(language.split("-")[0].lower(), "simple")
