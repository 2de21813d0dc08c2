"""The Researcher role's pure logic: the deterministic bull/bear analyst (``analyst``) and the
optional OpenAI-compatible model client that falls back to it (``llm``)."""

from __future__ import annotations

__all__: list[str] = []
