"""The reference deck of the benchmarks: 10 slides, about 75 seconds of narration."""

from __future__ import annotations

from pathlib import Path

from tests.decks import make_deck

REFERENCE_NOTES: list[tuple[str, str]] = [
    (
        "Welcome",
        "Welcome to the product update. Over the next few minutes we will walk "
        "through what changed this quarter and what comes next. It will be short.",
    ),
    (
        "Customers",
        "Our customers asked for faster exports and clearer reports. Both shipped "
        "in the spring release, and the feedback has been warm.",
    ),
    (
        "Growth",
        "Sign ups grew steadily across every region. The strongest growth came from "
        "small teams who found us through word of mouth.",
    ),
    (
        "Reliability",
        "Reliability matters more than features. We cut the error rate in half "
        "and moved the slowest pages onto the new storage layer.",
    ),
    (
        "Support",
        "The support team now answers most questions within the hour. Their notes "
        "feed straight into the planning board every week.",
    ),
    (
        "Design",
        "The design refresh makes the dashboard calmer. Fewer colors, larger type, "
        "and one clear action on every screen.",
    ),
    (
        "Hiring",
        "We welcomed new engineers and designers this quarter. Each of them shipped "
        "something real within their first two weeks.",
    ),
    (
        "Risks",
        "There are risks too. Costs rise with usage, and one large customer depends "
        "on a feature we plan to replace.",
    ),
    (
        "Next",
        "Next quarter we focus on collaboration. Shared folders, comments and "
        "review requests are already in testing.",
    ),
    (
        "Thanks",
        "Thank you for listening. Questions are welcome, and the full report is in "
        "the shared drive for anyone who wants the details. See you next quarter.",
    ),
]


def write_reference_deck(path: Path) -> Path:
    return make_deck(path, REFERENCE_NOTES)
