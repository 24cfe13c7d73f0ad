"""The errors a command reports in one line: the one home of the exceptions that cross layers.

Owns the exception classes that the torch side raises and the command line catches, so that
catching them loads no torch. Must import nothing from the package.
"""

from __future__ import annotations

__all__ = ["RunFolderError", "TrainingDiverged"]


class RunFolderError(Exception):
    """The run folder cannot be used as asked (exists, complete, mismatched config)."""


class TrainingDiverged(Exception):
    """A loss became NaN or infinite."""
