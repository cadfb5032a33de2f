"""The home page (``/`` of `pir serve`): what needs attention now, each line linking to the board and filters
that explain it (``pirlib.attention``; the weekly digest sends the same list)."""

from __future__ import annotations

from pirlib import attention, metrics
from pirlib.ui.attention_list import attention_html
from pirlib.ui.boards.board import BoardData, BoardSpec


def _found(data: BoardData) -> attention.Attention:
    return data.derive("attention", lambda: attention.from_frames(data.frames, data.today, data.as_of))


def headline(data: BoardData) -> str:
    n = _found(data).count
    return "Nothing needs attention right now. " if n == 0 else f"{n} thing{'s' if n != 1 else ''} need attention. "


def needs_attention(data: BoardData, filters: metrics.Filters) -> str:
    return attention_html(_found(data))


SPEC = BoardSpec("What needs attention", dict(attention.LOADERS), {}, (needs_attention,), headline=headline)
