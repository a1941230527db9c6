from __future__ import annotations

import threading

import pytest
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs.models import Job, Slide
from jobs.narration import progress, services

SLIDES = 16


@pytest.fixture
def narrating_job(user, persona) -> Job:
    job = Job.objects.create(
        owner=user,
        title="fan-in.pptx",
        deck="jobs/x/deck.pptx",
        persona=persona,
        status=Job.Status.SYNTHESIZING_AUDIO,
        slide_count=SLIDES,
    )
    Slide.objects.bulk_create(
        Slide(job=job, index=i, source_number=i, status=Slide.Status.NARRATING)
        for i in range(1, SLIDES + 1)
    )
    return job


@pytest.mark.django_db(transaction=True)
def test_slides_finishing_at_the_same_moment_queue_assembly_exactly_once(narrating_job: Job):
    slide_ids = list(narrating_job.slides.values_list("id", flat=True))
    start = threading.Barrier(len(slide_ids))
    results: list[bool] = []
    errors: list[BaseException] = []

    def finish(slide_id: int) -> None:
        try:
            start.wait()
            results.append(
                progress.slide_narration_store(
                    slide_id=slide_id,
                    audio_name=f"jobs/x/audio/{slide_id}.wav",
                    duration_seconds=2.0,
                    cues=[{"start": 0.0, "end": 1.5, "text": "Hi."}],
                )
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=finish, args=(sid,)) for sid in slide_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert results.count(True) == 1
    assemblies = ProcrastinateJob.objects.filter(
        task_name="slidecast.assemble", args__job_id=str(narrating_job.id)
    )
    assert assemblies.count() == 1
    assert assemblies.get().queue_name == "cpu"
    narrating_job.refresh_from_db()
    assert narrating_job.status == Job.Status.ASSEMBLING_VIDEO
    assert narrating_job.progress == progress.PROGRESS_NARRATED
    assert narrating_job.slides.filter(status=Slide.Status.NARRATED).count() == SLIDES


@pytest.mark.django_db(transaction=True)
def test_a_slide_finishing_after_cancellation_queues_nothing(narrating_job: Job):
    assert services.job_cancel(job=narrating_job)
    for slide_id in narrating_job.slides.values_list("id", flat=True):
        assert not progress.slide_narration_store(
            slide_id=slide_id, audio_name="a.wav", duration_seconds=1.0, cues=[]
        )
    assert not ProcrastinateJob.objects.filter(
        task_name="slidecast.assemble", args__job_id=str(narrating_job.id)
    ).exists()
    narrating_job.refresh_from_db()
    assert narrating_job.status == Job.Status.CANCELLED


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(5))
def test_rendering_and_the_last_narration_ending_together_queue_assembly_once(
    user, persona, round_
):
    job = Job.objects.create(
        owner=user, title="overlap.pptx", deck="jobs/x/deck.pptx", persona=persona,
        status=Job.Status.PROCESSING_SLIDES, slide_count=3,
    )  # fmt: skip
    Slide.objects.bulk_create(
        Slide(job=job, index=i, source_number=i, status=Slide.Status.NARRATED, audio="a.wav")
        for i in (1, 2)
    )
    last = Slide.objects.create(job=job, index=3, source_number=3, status=Slide.Status.NARRATING)
    images = [progress.SlideImage(f"cache/{i}.png", f"Slide {i}", False) for i in (1, 2, 3)]
    start = threading.Barrier(2)
    results: dict[str, bool] = {}

    def run(name, call) -> None:
        try:
            start.wait()
            results[name] = call()
        finally:
            connection.close()

    threads = [
        threading.Thread(
            target=run,
            args=("rendered", lambda: progress.job_slides_rendered(job_id=job.id, images=images)),
        ),
        threading.Thread(
            target=run,
            args=(
                "narrated",
                lambda: progress.slide_narration_store(
                    slide_id=last.id, audio_name="c.wav", duration_seconds=1.0, cues=[]
                ),
            ),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results["rendered"] is True
    assemblies = ProcrastinateJob.objects.filter(
        task_name="slidecast.assemble", args__job_id=str(job.id)
    )
    assert assemblies.count() == 1
    job.refresh_from_db()
    assert job.status == Job.Status.ASSEMBLING_VIDEO
    assert list(job.slides.order_by("index").values_list("image", flat=True)) == [
        "cache/1.png", "cache/2.png", "cache/3.png",
    ]  # fmt: skip
