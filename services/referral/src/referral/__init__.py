"""Referral: every referral a case needs, so none is forgotten and none goes where it may not."""
