"""Reporting: read models over every service's events — timelines, SLA clocks, datasets."""
