#!/usr/bin/env bash
# Sets everything up, then turns the sample deck into a narrated video with captions,
# through the same queue and workers the web app uses (embedded PostgreSQL by default).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
deck="${1:-samples/sample.pptx}"
out="${2:-out/$(basename "${deck%.*}").mp4}"
echo "==> Narrating $deck"
.venv/bin/python manage.py narrate "$deck" -o "$out"
