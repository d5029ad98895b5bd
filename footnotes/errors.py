"""The error hierarchy. Raised in the core with a message a user can act on;
converted to exit codes, ``gr.Error`` or HTTP responses only at the edges."""

from __future__ import annotations


class FootnotesError(Exception):
    """Base of every error Footnotes raises on purpose."""


class UnsupportedFileError(FootnotesError):
    """The file's type is not one Footnotes reads."""


class DocumentError(FootnotesError):
    """A file could not be read into a document (corrupt, binary, undecodable)."""


class EmptyDocumentError(DocumentError):
    """The file holds no text."""


class LimitExceeded(DocumentError):
    """A file is over a parsing limit (size, nesting, pages, time, memory); the message names
    the limit and the ``FOOTNOTES_*`` variable that sets it."""


class StoreError(FootnotesError):
    """The store cannot be reached, or holds nothing to answer from."""


class StoreUnavailable(StoreError):
    """The Chroma server cannot be reached: try again later (HTTP 503), not "not found"."""


class ConfigError(FootnotesError):
    """A setting is invalid."""
