"""Pure rules: money, the order state machine, payment methods, events, limits.

Imports nothing outside the domain (the import-linter contract in pyproject.toml).
"""
