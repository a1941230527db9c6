#!/usr/bin/env bash
# Installs what Slidecast needs on Debian/Ubuntu: system packages, a virtualenv in .venv with
# the Python packages (voice and speech models included), and the database schema.
# Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v soffice >/dev/null 2>&1 || missing+=(libreoffice-impress fonts-dejavu fonts-liberation2)
command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
# LibreOffice renders untrusted decks inside bubblewrap: no network, no files but the job's.
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v prlimit >/dev/null 2>&1 || missing+=(util-linux)
# The browser tests drive Debian's Chromium (Playwright's own download needs the internet).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
"$PYTHON" -c "import ensurepip, venv" >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> Installing system packages: ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

"$PYTHON" - <<'PY'
import sys
if sys.version_info[:2] != (3, 11):
    sys.exit(f"Slidecast needs Python 3.11; {sys.executable} is {sys.version.split()[0]}. "
             "Set PYTHON=/path/to/python3.11.")
PY

if [ ! -x .venv/bin/python ]; then
  echo "==> Creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.slidecast-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "==> Installing Python packages"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  touch "$stamp"
fi

echo "==> Preparing the database"
.venv/bin/python manage.py migrate --no-input -v 0
