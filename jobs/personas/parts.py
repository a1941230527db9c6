"""A knowledge part's state is the sum of its documents': recomputed after each change."""

from __future__ import annotations

from django.db.models import Count, Max, Min, Q, Sum

from jobs.personas.models import KnowledgeDocument, KnowledgePart

DocStatus = KnowledgeDocument.Status
PartStatus = KnowledgePart.Status

# Most urgent first: a part shows the state of its least finished document.
_PRECEDENCE = (
    (DocStatus.RUNNING, PartStatus.RUNNING),
    (DocStatus.QUEUED, PartStatus.QUEUED),
    (DocStatus.FAILED, PartStatus.FAILED),
    (DocStatus.PENDING, PartStatus.PENDING),
    (DocStatus.DONE, PartStatus.DONE),
)


def parts_refresh(persona_id: int, kinds: tuple[str, ...] | None = None) -> None:
    """Recompute the persona's parts (or just `kinds`) from their documents."""
    parts = KnowledgePart.objects.filter(persona_id=persona_id)
    if kinds:
        parts = parts.filter(kind__in=kinds)
    for part in parts:
        documents = part.documents.all()
        sums = documents.aggregate(
            documents=Count("id"),
            segments=Sum("segment_count", default=0),
            vectors=Sum("vector_count", default=0),
            progress=Sum("progress", default=0),
            started=Min("started_at"),
            finished=Max("finished_at"),
            **{status: Count("id", filter=Q(status=status)) for status in DocStatus.values},
        )
        part.document_count = sums["documents"]
        part.segment_count, part.vector_count = sums["segments"], sums["vectors"]
        part.progress = sums["progress"] // sums["documents"] if sums["documents"] else 0
        part.status = next(
            (shown for status, shown in _PRECEDENCE if sums[status]), PartStatus.EMPTY
        )
        part.started_at = sums["started"]
        unfinished = part.status in (PartStatus.RUNNING, PartStatus.QUEUED)
        part.finished_at = None if unfinished else sums["finished"]
        failed = documents.filter(status=DocStatus.FAILED).order_by("name").first()
        part.error = failed.error if failed else ""
        part.save()
