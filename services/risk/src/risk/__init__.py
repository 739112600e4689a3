"""Risk: DASH risk assessments of every case, their grades, triggers and history."""
