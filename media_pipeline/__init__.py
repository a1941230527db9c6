"""Slidecast's media pipeline: a pure library (no Django) that turns decks into narrated video."""
