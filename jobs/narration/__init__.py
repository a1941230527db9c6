"""Deck jobs: a .pptx becomes slides, narration and a captioned video.

models (Job, Slide), services (every write), selectors (every read), steps (one job step each,
calling media_pipeline), tasks (the procrastinate tasks that run the steps), pipeline_config
(settings turned into media_pipeline options)."""
