"""Loupe's inference core: pure ML, no web, no database.

Nothing heavy happens at import time: models are loaded by explicit calls.
"""

__version__ = "0.1.0"
