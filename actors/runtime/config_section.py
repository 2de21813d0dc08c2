"""The base of every configuration section: frozen, and an unknown key is an error.

The application's settings (``actors.app.settings``) and each role's own section (the
notifier's, for one) derive from :class:`Section`, so every section refuses a mistyped key the
same way, naming it, instead of ignoring it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Section"]


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)
