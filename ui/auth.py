"""Logins for the chat UI, from ``FOOTNOTES_AUTH``.

The value is either ``user:password`` pairs separated by commas, or the path
of a file with one ``user:password`` per line (blank lines and ``#`` comments
skipped), for passwords that hold a comma or should stay out of the
environment. A password may contain ``:``; the user name may not. A value that
is neither raises :class:`ConfigError` naming the entry, never the password.
"""

from __future__ import annotations

from pathlib import Path

from footnotes.errors import ConfigError
from footnotes.settings import Settings


def ui_auth(settings: Settings) -> list[tuple[str, str]] | None:
    """The ``auth=`` of ``gr.mount_gradio_app``: the (user, password) logins, or None for none."""
    value = settings.auth.strip()
    if not value:
        return None
    path = Path(value).expanduser()
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"FOOTNOTES_AUTH file {path}: cannot read it ({exc})") from exc
        entries = [
            (f"FOOTNOTES_AUTH file {path}, line {number}", line.strip())
            for number, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("#")
        ]
        if not entries:
            raise ConfigError(f"FOOTNOTES_AUTH file {path} holds no user:password line")
    else:
        if ":" not in value and ("/" in value or "\\" in value):
            raise ConfigError(f"FOOTNOTES_AUTH: no such file {value!r} (nor user:password pairs)")
        entries = [
            (f"FOOTNOTES_AUTH entry {number}", item.strip())
            for number, item in enumerate(value.split(","), start=1)
        ]
    return [_login(where, entry) for where, entry in entries]


def _login(where: str, entry: str) -> tuple[str, str]:
    user, sep, password = entry.partition(":")
    user = user.strip()
    if not sep or not user or not password:
        raise ConfigError(
            f"{where} is not 'user:password' (a user name, a colon, a non-empty password)"
        )
    return user, password
