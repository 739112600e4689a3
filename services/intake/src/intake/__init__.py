"""Intake: where a disclosure of domestic abuse enters the system and its case is kept."""
