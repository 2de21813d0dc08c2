"""The Critic role's pure logic: the post-mortem score and lesson of a closed trade
(``scoring``) and the calibration of research confidence against outcomes (``calibration``)."""

from __future__ import annotations

__all__: list[str] = []
