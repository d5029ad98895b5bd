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


class NotFound(StoreError):
    """No such collection or document, or nothing in it to answer from (HTTP 404): the
    caller asked for something absent, as opposed to a store that failed (HTTP 500)."""


class ConfigError(FootnotesError):
    """A setting is invalid."""


class ModelMismatch(ConfigError):
    """The collection was embedded with another model than the one asking: the server's
    configuration is at fault, not the request (HTTP 500)."""


class InputError(FootnotesError):
    """A question, history or input line is empty, malformed or over a limit: the
    caller's to fix (HTTP 400; ``FILE:N: reason`` for a line of a file)."""
