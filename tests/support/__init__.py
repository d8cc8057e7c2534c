"""Helpers shared by the test suites (pytest fixtures, stand-in processes)."""
