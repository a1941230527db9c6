"""Ads: campaigns running Slidecast's videos, their daily metrics and CRM conversions, and the
analyses on them (fatigue every 6 hours, winners every 12, budget suggestions daily)."""
