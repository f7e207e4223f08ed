"""The reST of module docstrings, turned into the Markdown the site renders."""

from __future__ import annotations

import re

__all__ = ["roles_in_html", "rst_to_markdown"]

_ROLE = re.compile(r":(?:class|func|meth|mod|attr|exc|data|obj):`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")
_TABLE_RULE = re.compile(r"^=+( +=+)+\s*$")
_HTML_ROLE = re.compile(r":(?:class|func|meth|mod|attr|exc|data|obj):<code>(~?)([^<]+)</code>")


def _inline(line: str) -> str:
    line = _ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1] if '~' in m.group(0) else m.group(1)}`", line)
    return _LITERAL.sub(r"`\1`", line)


def rst_to_markdown(text: str) -> str:
    """Markdown for a docstring: inline literals and roles become code, ``::`` blocks and simple
    tables become fenced blocks. Anything else is kept as written (reST bullets are Markdown's)."""
    lines = text.strip("\n").splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _TABLE_RULE.match(line):
            rows = [line]
            i += 1
            rules = 1
            while i < len(lines) and lines[i].strip() and rules < 3:
                rows.append(lines[i])
                rules += bool(_TABLE_RULE.match(lines[i]))
                i += 1
            out += ["```text", *rows, "```"]
            continue
        if line.rstrip().endswith("::"):
            head = line.rstrip()[:-2].rstrip()
            if head:
                out.append(_inline(head) + ":")
            i += 1
            block: list[str] = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            while block and not block[0].strip():
                block.pop(0)
            indent = min((len(b) - len(b.lstrip()) for b in block if b.strip()), default=0)
            language = "yaml" if any(b.strip().startswith("apiVersion:") for b in block) else "python"
            if any(b.lstrip().startswith(("$ ", "pip ", "blockyard ", ".venv/")) for b in block[:1]):
                language = "sh"
            out += ["", f"```{language}", *(b[indent:] for b in block), "```", ""]
            continue
        out.append(_inline(line))
        i += 1
    return "\n".join(out).strip() + "\n"


def roles_in_html(html: str) -> str:
    """Sphinx roles left in rendered docstrings (``:class:<code>~a.B</code>``) shown as code (``B``)."""
    return _HTML_ROLE.sub(lambda m: f"<code>{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}</code>", html)
