"""Budget suggestions (accepted or rejected by an operator, through the budget services) and
the ads audit trail of who decided what."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin

from jobs.admin.actions import confirmed_action, each_with_service
from jobs.admin.ads_findings import ReadOnlyAdmin
from jobs.ads import budgets
from jobs.ads.models import AdsAuditEntry, BudgetSuggestion, BudgetSuggestionLine


class BudgetSuggestionLineInline(admin.TabularInline):
    model = BudgetSuggestionLine
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "ad", "current_budget", "suggested_budget", "share", "probability_best",
        "cost_per_result", "roas", "reason",
    )  # fmt: skip

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(BudgetSuggestion)
class BudgetSuggestionAdmin(ReadOnlyAdmin):
    list_display = ("campaign", "status", "total_budget", "currency", "metric", "summary",
                    "created_at", "decided_by", "decided_at")  # fmt: skip
    list_filter = ("status", "metric", "created_at")
    search_fields = ("campaign__name", "campaign__owner__username", "summary")
    list_select_related = ("campaign", "decided_by")
    date_hierarchy = "created_at"
    inlines = [BudgetSuggestionLineInline]
    actions = ["accept_suggestions", "reject_suggestions"]

    def has_decide_permission(self, request) -> bool:
        return request.user.has_perm("jobs.change_budgetsuggestion")

    def _decide(self, request, queryset, action: str, label: str, service: Callable):
        def perform(selected) -> str:
            return each_with_service(
                self, request, selected, service, keyword="suggestion", verb=f"{label}:",
                noun="budget suggestions", actor=request.user,
            )  # fmt: skip

        return confirmed_action(
            request, queryset, modeladmin=self, action=action, label=label,
            noun="budget suggestions", perform=perform,
            preview=lambda qs: [f"{s} — {s.get_status_display()}: {s.summary}" for s in qs[:10]],
        )  # fmt: skip

    @admin.action(description="Accept (sets the ads' budgets in Slidecast)", permissions=["decide"])
    def accept_suggestions(self, request, queryset):
        return self._decide(
            request, queryset, "accept_suggestions", "Accept", budgets.budget_suggestion_accept
        )

    @admin.action(description="Reject (budgets stay as they are)", permissions=["decide"])
    def reject_suggestions(self, request, queryset):
        return self._decide(
            request, queryset, "reject_suggestions", "Reject", budgets.budget_suggestion_reject
        )


@admin.register(AdsAuditEntry)
class AdsAuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor", "action", "campaign", "suggestion", "details")
    list_filter = ("action", "at")
    search_fields = ("action", "actor__username", "campaign__name")
    list_select_related = ("actor", "campaign", "suggestion", "suggestion__campaign")
    date_hierarchy = "at"
