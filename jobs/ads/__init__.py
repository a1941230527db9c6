"""Ads analytics (campaigns, snapshots, fatigue, winners, budgets): not built yet."""
