"""Admin actions that show what they will touch and act only once confirmed."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
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
