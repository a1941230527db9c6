"""Admin actions that show what they will touch and act only once confirmed."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.template.response import TemplateResponse


def confirmed_action(
    request, queryset: QuerySet, *, modeladmin, action: str, label: str, noun: str,
    perform: Callable[[QuerySet], str], preview: Callable[[QuerySet], list[str]] | None = None,
):  # fmt: skip
    """Show how many rows an action will touch and act only once the operator confirms."""
    if request.POST.get("confirmed") == "yes":
        modeladmin.message_user(request, perform(queryset), messages.SUCCESS)
        return None
    select_across = request.POST.get("select_across") == "1"
    filters = [f"{k}={v}" for k, v in request.GET.items() if k not in ("p", "o")]
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": f"{label} {noun}",
        "action": action,
        "action_label": label,
        "noun": noun,
        "count": queryset.count(),
        "select_across": select_across,
        "selected_ids": request.POST.getlist("_selected_action"),
        "filter_description": ", ".join(filters),
        "preview": (preview or (lambda qs: [str(o) for o in qs[:10]]))(queryset),
        "changelist_url": request.get_full_path(),
    }
    return TemplateResponse(request, "admin/oversight/confirm_action.html", context)


def each_with_service(
    modeladmin, request, queryset: QuerySet, service: Callable, *, keyword: str, verb: str,
    noun: str, **service_kwargs,
) -> str:  # fmt: skip
    """Call a service for each selected row; say how many it did and why it refused others."""
    done, refused = 0, []
    selected = list(queryset)
    for row in selected:
        try:
            result = service(**{keyword: row}, **service_kwargs)
        except ValidationError as exc:
            refused.append(f"{getattr(row, 'title', None) or row}: {' '.join(exc.messages)}")
            continue
        done += 1 if result is not False else 0
    for reason in refused[:10]:
        modeladmin.message_user(request, reason, messages.WARNING)
    return f"{verb} {done} of {len(selected)} {noun}."
