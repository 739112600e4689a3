"""Repairs: target hardening and emergency repairs as priority work orders."""
