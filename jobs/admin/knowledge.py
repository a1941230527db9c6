"""The persona page's knowledge panel: upload, ingest, retry, archive, live progress, search.

Each view translates a request into one persona service and goes back to the persona page
with the outcome as a message; the panel polls the JSON view while ingestion runs.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from jobs.errors import RequestRefused
from jobs.personas import knowledge
from jobs.personas.models import KnowledgePart, Persona
from jobs.personas.search import MAX_RESULTS, knowledge_search
from jobs.personas.selectors import persona_get, persona_ingestion

ACTIONS = {
    "ingest": (lambda p: knowledge.knowledge_ingest_start(persona=p), "Ingestion started."),
    "reingest": (
        lambda p: knowledge.knowledge_ingest_start(persona=p, force=True),
        "Every document is being ingested again.",
    ),
    "retry": (lambda p: knowledge.knowledge_retry_failed(persona=p), "Retrying the failed parts."),
    "archive": (lambda p: knowledge.persona_archive(persona=p), "Archived."),
    "restore": (lambda p: knowledge.persona_restore(persona=p), "Restored."),
}


def knowledge_urls(model_admin: admin.ModelAdmin) -> list:
    wrap = model_admin.admin_site.admin_view
    return [
        path("<int:persona_id>/knowledge/", wrap(knowledge_status), name="persona_knowledge"),
        path("<int:persona_id>/knowledge/upload/", wrap(knowledge_upload),
             name="persona_knowledge_upload"),
        path("<int:persona_id>/knowledge/action/", wrap(knowledge_action),
             name="persona_knowledge_action"),
        path("<int:persona_id>/knowledge/search/", wrap(_searching(model_admin)),
             name="persona_knowledge_search"),
    ]  # fmt: skip


def knowledge_context(persona: Persona) -> dict:
    """What the persona page's knowledge panel shows when it is first drawn."""
    return {
        "ingestion": persona_ingestion(persona=persona),
        "part_kinds": KnowledgePart.Kind.choices,
        "accepted": {
            kind: ", ".join(knowledge.accepted_suffixes(kind)) for kind in KnowledgePart.Kind.values
        },  # fmt: skip
        "status_url": reverse("admin:persona_knowledge", args=[persona.id]),
        "upload_url": reverse("admin:persona_knowledge_upload", args=[persona.id]),
        "action_url": reverse("admin:persona_knowledge_action", args=[persona.id]),
        "search_url": reverse("admin:persona_knowledge_search", args=[persona.id]),
    }


def _persona(request: HttpRequest, persona_id: int) -> Persona:
    if not request.user.has_perm("jobs.change_persona"):
        raise PermissionDenied
    persona = persona_get(persona_id=persona_id)
    if persona is None:
        raise Http404("There is no such persona.")
    return persona


def _back(persona: Persona) -> HttpResponse:
    return redirect(reverse("admin:jobs_persona_change", args=[persona.id]) + "#knowledge")


def knowledge_status(request: HttpRequest, persona_id: int) -> HttpResponse:
    """The ingestion as JSON, or as the panel's HTML (?panel=1) for its live refresh."""
    payload = persona_ingestion(persona=_persona(request, persona_id))
    if request.GET.get("panel"):
        return TemplateResponse(
            request, "admin/jobs/persona/_knowledge_panel.html", {"ingestion": payload}
        )
    return JsonResponse(payload, encoder=DjangoJSONEncoder)


@require_POST
def knowledge_upload(request: HttpRequest, persona_id: int) -> HttpResponse:
    persona = _persona(request, persona_id)
    kind = request.POST.get("part", "")
    try:
        outcomes = knowledge.knowledge_documents_upload(
            persona=persona, kind=kind, files=request.FILES.getlist("files"),
            uploaded_by=request.user,
        )  # fmt: skip
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except RequestRefused as exc:
        messages.error(request, exc.message)
    else:
        changed = [o.document.name for o in outcomes if o.changed]
        same = [o.document.name for o in outcomes if not o.changed]
        if changed:
            messages.success(request, f"Stored for ingestion ({kind}): {', '.join(changed)}.")
        if same:
            messages.info(request, f"Unchanged, kept as ingested: {', '.join(same)}.")
    return _back(persona)


@require_POST
def knowledge_action(request: HttpRequest, persona_id: int) -> HttpResponse:
    persona = _persona(request, persona_id)
    action = ACTIONS.get(request.POST.get("action", ""))
    if action is None:
        messages.error(request, "Unknown action.")
        return _back(persona)
    perform, done = action
    try:
        persona = perform(persona)
    except RequestRefused as exc:
        messages.error(request, exc.message)
    else:
        if persona.status == Persona.Status.ACTIVE and request.POST["action"] != "restore":
            done = "Nothing new to ingest: the persona is active."
        messages.success(request, done)
    return _back(persona)


def _searching(model_admin: admin.ModelAdmin):
    def knowledge_search_page(request: HttpRequest, persona_id: int) -> TemplateResponse:
        persona = _persona(request, persona_id)
        query = request.GET.get("q", "").strip()[:1000]
        part = request.GET.get("part", "")
        part = part if part in KnowledgePart.Kind.values else ""
        hits = knowledge_search(persona=persona, q=query, k=20, part=part) if query else []
        context = {
            **model_admin.admin_site.each_context(request),
            "opts": Persona._meta,
            "persona": persona,
            "title": f"Search the knowledge of {persona.name}",
            "query": query,
            "part": part,
            "part_kinds": KnowledgePart.Kind.choices,
            "hits": hits,
            "max_results": MAX_RESULTS,
        }
        return TemplateResponse(request, "admin/jobs/persona/knowledge_search.html", context)

    return knowledge_search_page
