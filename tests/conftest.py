from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from jobs.models import Job, Persona
from jobs.worker.inprocess import in_process_worker
from tests.decks import make_deck

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def media_root(tmp_path: Path, settings) -> Path:
    """Each test stores files in a folder of its own."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root)},
        },
    }
    return root


@pytest.fixture
def work_dir(tmp_path: Path, settings) -> Path:
    """The folder where steps keep their temporary files."""
    folder = tmp_path / "work"
    folder.mkdir()
    settings.SLIDECAST = {**settings.SLIDECAST, "WORK_DIR": str(folder)}
    return folder


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-password-1")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user("mallory", password="mallory-password-1")


@pytest.fixture
def persona(db) -> Persona:
    # Transactional tests flush the tables, data migrations included: recreate it.
    persona, _ = Persona.objects.get_or_create(
        name="Joe (US English)",
        owner=None,
        defaults={"tts_engine": "piper", "voice": "en_US-joe-medium", "status": "active"},
    )
    return persona


@pytest.fixture
def deck_path(tmp_path: Path) -> Callable[..., Path]:
    def build(slides, name: str = "deck.pptx", **kwargs) -> Path:
        return make_deck(tmp_path / name, slides, **kwargs)

    return build


def submit_deck(deck: Path, user, persona, **options) -> Job:
    """Create a job from a deck file the way every entry point does (jobs.services)."""
    from django.core.files import File

    from jobs.narration import services

    with deck.open("rb") as handle:
        return services.job_create(
            owner=user, deck=File(handle, name=deck.name), title=deck.name, persona=persona,
            **options,
        )  # fmt: skip


def clear_queue() -> None:
    """Empty procrastinate's tables, which Django's flush between tests leaves alone."""
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE procrastinate_jobs, procrastinate_workers CASCADE")


def wait_for_jobs(job_ids: Iterable, *, timeout: float = 180) -> list[Job]:
    """Poll until every job has finished; return them fresh from the database."""
    ids = [str(job_id) for job_id in job_ids]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = list(Job.objects.filter(id__in=ids))
        if len(jobs) == len(ids) and all(job.is_finished for job in jobs):
            return sorted(jobs, key=lambda job: ids.index(str(job.id)))
        time.sleep(0.2)
    from procrastinate.contrib.django.models import ProcrastinateJob

    from jobs.models import Slide

    states = dict(Job.objects.filter(id__in=ids).values_list("id", "status"))
    slides = list(Slide.objects.filter(job_id__in=ids).values_list("index", "status"))
    queued = list(
        ProcrastinateJob.objects.filter(args__job_id__in=ids).values_list(
            "task_name", "status", "attempts", "scheduled_at"
        )
    )
    raise AssertionError(
        f"jobs did not finish in {timeout} s: {states}; slides {slides}; queue {queued}"
    )


@pytest.fixture
def run_worker(transactional_db) -> Callable[..., list[Job]]:
    """Run a real in-process worker until the given jobs have finished."""
    clear_queue()

    def run(job_ids: Iterable, *, timeout: float = 180, queues=("cpu",)) -> list[Job]:
        with in_process_worker(queues=list(queues)):
            return wait_for_jobs(job_ids, timeout=timeout)

    return run


def database_url_for_other_processes() -> str:
    """Return a URL that reaches the test database from another process."""
    params = connection.get_connection_params()
    user = quote(params.get("user") or "postgres")
    password = params.get("password") or ""
    auth = f"{user}:{quote(password)}@" if password else f"{user}@"
    host = params.get("host") or ""
    port = params.get("port") or ""
    name = connection.settings_dict["NAME"]
    if host.startswith("/"):
        return f"postgresql://{auth}/{name}?host={quote(host)}"
    return f"postgresql://{auth}{host}{':' + str(port) if port else ''}/{name}"


@pytest.fixture
def start_worker_process(
    transactional_db, media_root: Path, work_dir: Path, tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start `manage.py procrastinate worker` processes on the test database."""
    clear_queue()
    started: list[subprocess.Popen] = []

    def start(*, queues: str = "cpu", concurrency: int = 2, **extra_env: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "DATABASE_URL": database_url_for_other_processes(),
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "SLIDECAST_MEDIA_ROOT": str(media_root),
            "SLIDECAST_WORK_DIR": str(work_dir),
            "SLIDECAST_DATA_DIR": str(tmp_path / "data"),
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
        log_path = tmp_path / f"worker-{len(started)}.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            [sys.executable, "manage.py", "procrastinate", "worker", f"--queues={queues}",
             f"--concurrency={concurrency}"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        process.log_path = log_path
        process.log_file = log
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        process.log_file.close()


@pytest.fixture
def worker_process(start_worker_process) -> subprocess.Popen:
    """A `manage.py procrastinate worker` in its own process, on the test database."""
    return start_worker_process()


def pytest_collection_modifyitems(config, items):
    # Model-free tests first, then the slow end-to-end ones.
    items.sort(key=lambda item: "slow" in item.keywords)
