#!/usr/bin/env bash
# Sets everything up (if not done yet), then runs the whole test suite: real PostgreSQL,
# real workers, real LibreOffice, Piper, Whisper and ffmpeg. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/python -m pytest "$@"
