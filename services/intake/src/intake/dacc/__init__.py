"""The police DACC feed (seed 000): incidents matched to tenancies, the ASB advisor's briefing,
and the call's outcomes. Served as `police.v1.DaccFeed` by the intake process (ADR 0015)."""
