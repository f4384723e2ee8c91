"""Exception types of the engine.

Every error a user can cause carries a message they can act on: it names the file or the
value and says what is wrong. The CLI prints ``str(error)`` as one line; the app shows it in
one dialog.
"""

from __future__ import annotations


class SaganError(Exception):
    """Base class of every error the engine raises on purpose."""


class ConfigError(SaganError, ValueError):
    """A configuration value is missing, of the wrong type or out of range."""


class DataError(SaganError):
    """A dataset folder cannot be used (missing, empty, nothing decodable)."""


class CheckpointError(SaganError):
    """A checkpoint or run folder cannot be read, or does not fit the model."""


class TrainingError(SaganError):
    """Training cannot go on (non-finite losses, out of memory, disk full...)."""


class OutputError(SaganError):
    """A file or folder the user asked for cannot be written there (see output_paths)."""


class RequestTooLarge(SaganError):
    """What was asked for (a grid, a batch) would not fit in an image file or in memory."""
