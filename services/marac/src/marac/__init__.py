"""MARAC: meetings, case lists, multi-agency action plans, attendance and transfers; and the DACC."""
