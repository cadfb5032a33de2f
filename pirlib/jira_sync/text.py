"""Jira rich text -> readable plain text.

Data Center (REST v2) sends wiki markup strings, Cloud (REST v3) sends Atlassian Document Format (ADF)
trees. Both end up in DuckDB as plain text that a person can read in a timeline or a postmortem. The
output is never HTML: text that looks like markup (``<script>``) stays literally as it was typed, and the
publish step escapes it for whatever format it renders.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

__all__ = ["to_text"]


def to_text(value: Any) -> str | None:
    """Plain text of a Jira description, comment body or text field (v2 wiki string or v3 ADF dict)."""
    if value is None:
        return None
    if isinstance(value, str):
        return _wiki_to_text(value)
    if isinstance(value, dict):
        if "type" in value or "content" in value:
            return _adf_to_text(value)
        # A select option or user that landed in a text column: its visible name is the text.
        for key in ("value", "displayName", "name"):
            if isinstance(value.get(key), str):
                return value[key]
        return None
    if isinstance(value, list):
        parts = [to_text(item) for item in value]
        return ", ".join(part for part in parts if part) or None
    return str(value)


# --- v2 wiki markup -------------------------------------------------------------------------------------

# Most comments and descriptions are plain sentences; one search decides whether the slower rewrite runs
# at all (a full sync passes every comment through here).
_WIKI_MARKUP = re.compile(r"[*_{\[|+^~]|\?\?|(?<![\w-])-(?=[^\s-])|^\s*[#-]+\s|^h[1-6]\.|^bq\.|\r", re.MULTILINE)
# {{monospace}} is not a {code} macro: the opening brace must not be doubled.
_CODE_BLOCK = re.compile(r"(?<!\{)\{(code|noformat)(?::[^}]*)?\}(?!\})(.*?)\{\1\}", re.S | re.I)
# Opening and closing tags of block macros and colour, dropped (their content stays).
_MACRO_TAG = re.compile(r"\{(?:code|noformat|quote|panel|color)(?::[^}]*)?\}", re.IGNORECASE)
_HEADING = re.compile(r"^[ \t]*h[1-6]\.[ \t]*", re.MULTILINE)
_BLOCKQUOTE = re.compile(r"^[ \t]*bq\.[ \t]*", re.MULTILINE)
_LIST_ITEM = re.compile(r"^[ \t]*([*#-]+)[ \t]+(?=\S)", re.MULTILINE)
_TABLE_ROW = re.compile(r"^[ \t]*\|\|?(.*?)\|\|?[ \t]*$", re.MULTILINE)
_LINK = re.compile(r"\[([^\[\]|\n]*)\|([^\[\]\n]+)\]")
_BARE_LINK = re.compile(r"\[((?:https?|mailto|file):[^\[\]\s]+)\]")
_MENTION = re.compile(r"\[~(?:accountid:)?([^\[\]\n]+)\]")
_MONOSPACE = re.compile(r"\{\{(.+?)\}\}")
_EFFECTS = [
    ("*", re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])")),  # *bold*
    ("_", re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])")),  # _italic_
    ("+", re.compile(r"(?<![\w+])\+(?=\S)([^+\n]*?\S)\+(?![\w+])")),  # +underline+
    ("-", re.compile(r"(?<![\w-])-(?=[^\s-])([^-\n]*?[^\s-])-(?![\w-])")),  # -strikethrough-
    ("^", re.compile(r"(?<![\w^])\^(?=\S)([^\^\n]*?\S)\^(?![\w^])")),  # ^superscript^
    ("~", re.compile(r"(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])")),  # ~subscript~
    ("??", re.compile(r"\?\?(?=\S)(.*?\S)\?\?")),  # ??citation??
]


def _wiki_to_text(text: str) -> str:
    if not _WIKI_MARKUP.search(text):
        return text.strip()
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "{" in text and _CODE_BLOCK.search(text):
        # Code and noformat bodies are kept verbatim: markup characters inside them are literal.
        out = []
        for number, piece in enumerate(_CODE_BLOCK.split(text)):
            # split() with two groups yields: text, macro name, body, text, macro name, body, ...
            if number % 3 == 2:
                out.append(piece.strip("\n"))
            elif number % 3 == 0:
                out.append(_wiki_inline(piece))
        text = "".join(out)
    else:
        text = _wiki_inline(text)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


_BLANK_LINES = re.compile(r"\n{3,}")
# Line-start markup (headings, quotes, tables, lists): one search decides whether those rewrites run.
_LINE_MARKUP = re.compile(r"^[ \t]*(?:h[1-6]\.|bq\.|\||[*#-]+[ \t])", re.MULTILINE)


def _wiki_inline(text: str) -> str:
    # Each rewrite runs only when its marker occurs: most texts use one or two kinds of markup.
    if "{" in text:
        text = _MONOSPACE.sub(_first, text)
        text = _MACRO_TAG.sub("", text)
    if _LINE_MARKUP.search(text):
        text = _HEADING.sub("", text)
        text = _BLOCKQUOTE.sub("", text)
        if "|" in text:
            text = _TABLE_ROW.sub(lambda m: " | ".join(c.strip() for c in re.split(r"\|\|?", m.group(1))), text)
        text = _LIST_ITEM.sub(lambda m: "  " * (len(m.group(1)) - 1) + "- ", text)
    if "[" in text:
        if "[~" in text:
            text = _MENTION.sub(lambda m: "@" + m.group(1), text)
        text = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})" if m.group(1) else m.group(2), text)
        if "[" in text:
            text = _BARE_LINK.sub(_first, text)
    for marker, effect in _EFFECTS:
        if marker in text:
            text = effect.sub(_first, text)
    return text


def _first(match: re.Match[str]) -> str:
    return match.group(1)


# --- v3 Atlassian Document Format -----------------------------------------------------------------------

_BLOCKS = {
    "paragraph",
    "heading",
    "bulletList",
    "orderedList",
    "codeBlock",
    "blockquote",
    "rule",
    "table",
    "panel",
    "expand",
    "nestedExpand",
    "mediaSingle",
    "mediaGroup",
    "taskList",
    "decisionList",
    "blockCard",
    "embedCard",
}


def _adf_to_text(node: dict[str, Any]) -> str:
    lines = _adf_block(node, depth=0)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _adf_block(node: dict[str, Any], depth: int) -> list[str]:
    """Lines of one block node; blocks at the same level are separated by a blank line."""
    kind = node.get("type")
    children = node.get("content") or []
    attrs = node.get("attrs") or {}
    if kind in ("doc", "blockquote", "panel", "layoutSection", "layoutColumn", "bodiedExtension") or kind is None:
        return _adf_blocks(children, depth)
    if kind in ("expand", "nestedExpand"):
        title = attrs.get("title")
        return ([title, ""] if title else []) + _adf_blocks(children, depth)
    if kind in ("paragraph", "heading"):
        return [_adf_inline(children)]
    if kind == "codeBlock":
        return ["".join(child.get("text", "") for child in children)]
    if kind == "rule":
        return ["---"]
    if kind in ("bulletList", "orderedList", "taskList", "decisionList"):
        lines: list[str] = []
        start = int(attrs.get("order", 1) or 1)
        for number, item in enumerate(children, start=start):
            if kind == "orderedList":
                marker = f"{number}. "
            elif item.get("type") == "taskItem":
                marker = "[x] " if (item.get("attrs") or {}).get("state") == "DONE" else "[ ] "
            else:
                marker = "- "
            lines.extend(_adf_list_item(item, marker, depth))
        return lines
    if kind == "table":
        return [
            " | ".join(
                " ".join(_adf_blocks(cell.get("content") or [], depth)).strip() for cell in row.get("content") or []
            )
            for row in children
        ]
    if kind in ("mediaSingle", "mediaGroup", "media"):
        names = [((c.get("attrs") or {}).get("alt") or (c.get("attrs") or {}).get("id")) for c in children or [node]]
        return [f"[attachment: {name}]" if name else "[attachment]" for name in names]
    if kind in ("blockCard", "embedCard"):
        return [attrs.get("url", "")]
    # An inline node at block level (rare, but seen in hand-built payloads) or an unknown block type.
    text = _adf_inline([node]) if "text" in node or kind in _INLINE else _adf_inline(children)
    return [text] if text else []


def _adf_blocks(children: list[dict[str, Any]], depth: int) -> list[str]:
    lines: list[str] = []
    for child in children:
        block = _adf_block(child, depth)
        if not block:
            continue
        if lines and child.get("type") in _BLOCKS:
            lines.append("")
        lines.extend(block)
    return lines


def _adf_list_item(item: dict[str, Any], marker: str, depth: int) -> list[str]:
    indent = "  " * depth
    content = item.get("content") or []
    if item.get("type") in ("taskItem", "decisionItem"):
        return [indent + marker + _adf_inline(content)]
    lines: list[str] = []
    first = True
    for child in content:
        if child.get("type") in ("bulletList", "orderedList", "taskList"):
            lines.extend(_adf_block(child, depth + 1))
            continue
        for line in _adf_block(child, depth + 1):
            if not line:
                continue
            lines.append(indent + (marker if first else " " * len(marker)) + line)
            first = False
    return lines


_INLINE = {"text", "hardBreak", "mention", "emoji", "inlineCard", "status", "date", "placeholder", "mediaInline"}


def _adf_inline(nodes: list[dict[str, Any]]) -> str:
    parts: list[str] = []
    for node in nodes:
        kind = node.get("type")
        attrs = node.get("attrs") or {}
        if kind == "text" or (kind is None and "text" in node):
            text = node.get("text", "")
            href = next(
                ((m.get("attrs") or {}).get("href") for m in node.get("marks") or [] if m.get("type") == "link"),
                None,
            )
            parts.append(f"{text} ({href})" if href and href != text else text)
        elif kind == "hardBreak":
            parts.append("\n")
        elif kind == "mention":
            name = str(attrs.get("text") or attrs.get("id") or "")
            parts.append(name if name.startswith("@") else f"@{name}")
        elif kind == "emoji":
            parts.append(attrs.get("text") or attrs.get("shortName") or "")
        elif kind == "inlineCard":
            parts.append(attrs.get("url") or "")
        elif kind == "status":
            parts.append(f"[{attrs.get('text', '')}]")
        elif kind == "date":
            parts.append(_adf_date(attrs.get("timestamp")))
        elif node.get("content"):
            parts.append(_adf_inline(node["content"]))
    return "".join(parts)


def _adf_date(timestamp: Any) -> str:
    try:
        return dt.datetime.fromtimestamp(int(timestamp) / 1000, tz=dt.UTC).date().isoformat()
    except (TypeError, ValueError, OverflowError):
        return str(timestamp or "")
