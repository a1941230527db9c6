"""Production settings, checked in fresh processes (settings are read once per process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SLIDECAST_")}
    if "DATABASE_URL" in os.environ:
        clean["DATABASE_URL"] = os.environ["DATABASE_URL"]
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO, env={**clean, "DJANGO_SETTINGS_MODULE": "project.settings", **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


PRODUCTION = {
    "SLIDECAST_ENV": "production",
    "SLIDECAST_ALLOWED_HOSTS": "slidecast.example.com",
    "SLIDECAST_SECRET_KEY": "x" * 30 + "-production-key-with-enough-entropy-1234567890",
}


def test_check_deploy_is_clean_under_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION.items() if k != "SLIDECAST_SECRET_KEY"}
    result = run_manage("check", **env)
    assert result.returncode != 0
    assert "Production needs a secret key: set SLIDECAST_SECRET_KEY" in result.stderr


def test_secrets_can_come_from_files(tmp_path: Path):
    key_file = tmp_path / "secret_key"
    key_file.write_text("y" * 60 + "\n")
    env = {k: v for k, v in PRODUCTION.items() if k != "SLIDECAST_SECRET_KEY"}
    code = "from django.conf import settings; print(settings.SECRET_KEY == 'y' * 60)"
    result = run_manage(
        "shell", "-v", "0", "-c", code, SLIDECAST_SECRET_KEY_FILE=str(key_file), **env
    )
    assert result.stdout.strip() == "True", result.stderr


def test_debug_is_off_unless_asked():
    code = "from django.conf import settings; print(settings.DEBUG, settings.SESSION_COOKIE_SECURE)"
    assert run_manage("shell", "-v", "0", "-c", code, **PRODUCTION).stdout.strip() == "False True"
    assert run_manage("shell", "-v", "0", "-c", code).stdout.strip() == "False False"
