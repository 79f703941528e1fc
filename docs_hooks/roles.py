"""mkdocs hook: the docstrings use reStructuredText roles (``:class:`X```, read by IDEs and
``help()``), which Markdown renders as the role's name before the code; the site shows the code
alone."""

from __future__ import annotations

import re

__all__ = ["on_page_content"]

# ":class:<code>X</code>" as Markdown renders ":class:`X`"; "\s" after a role is reST's way to
# glue a plural to it ("BaseStep\s").
_ROLE = re.compile(r":(?:attr|class|const|data|exc|func|meth|mod|obj):(?=<code>)")
_GLUED_PLURAL = re.compile(r"(</code>)\\(?=[a-z])")


def on_page_content(html: str, **_: object) -> str:
    """Drop role names and reST's plural escapes from a page's rendered HTML."""
    return _GLUED_PLURAL.sub(r"\1", _ROLE.sub("", html))
