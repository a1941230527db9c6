"""Deck jobs: a .pptx, PDF or .odp becomes slides, narration and a captioned, chaptered video.

models (Job, Slide), services (every write), selectors (every read), steps (one job step each,
calling media_pipeline), tasks (the procrastinate tasks that run the steps), pipeline_config
(settings turned into media_pipeline options)."""
