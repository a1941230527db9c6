"""The Django admin for operators: one module per domain, plus the oversight dashboard pages.

Django imports this package to find the registrations; each module registers its models.
"""

from jobs.admin import (
    access,
    ads,
    ads_budgets,
    ads_data,
    ads_findings,
    integrations,
    media,
    narration,
    personas,
    queues,
    users,
)

__all__ = [
    "access",
    "ads",
    "ads_budgets",
    "ads_data",
    "ads_findings",
    "integrations",
    "media",
    "narration",
    "personas",
    "queues",
    "users",
]
