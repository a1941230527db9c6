"""Personas: the voices that narrate jobs. models, services (writes), selectors (reads)."""
