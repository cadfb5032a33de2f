"""The failure-mode taxonomy: a versioned YAML file (pir's own, or a team's named by the setting
``failure_mode_taxonomy``), checked here and written by ``pir init`` to ``failure_mode_taxonomy`` and
``failure_mode_rules``, where the view ``v_incident_failure_modes`` applies it.

The classification itself is SQL (views.sql), so it follows every sync without a step of its own, and a
manual mode (``failure_mode_overrides``, written only by the guide) is never touched by a sync.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pirlib.db import Connection
from pirlib.errors import ConfigError

DEFAULT_FILE = "pir default taxonomy (pirlib/failure_modes/taxonomy.yaml)"
# Rule kinds in the order they are tried, after the manual mode and the Jira field.
RULE_KINDS = ("label", "component", "summary")
_YAML_KEYS = {"label": "labels", "component": "components", "summary": "summary"}
_MODE_KEYS = {"mode", "category", "description", "aliases", *_YAML_KEYS.values()}


@dataclass(frozen=True)
class Mode:
    mode: str
    category: str | None
    description: str | None
    aliases: tuple[str, ...]
    rules: tuple[tuple[str, str], ...]  # (kind, pattern) in the file's order


@dataclass(frozen=True)
class Taxonomy:
    version: str
    fallback: str
    modes: tuple[Mode, ...]
    source: str

    def names(self) -> list[str]:
        return [m.mode for m in self.modes]

    def rules_frame(self) -> pd.DataFrame:
        """One row per rule: rule_rank (labels first, then components, then summaries; file order within
        each), mode, kind, pattern."""
        rows = [
            (kind, m.mode, pattern)
            for kind in RULE_KINDS
            for m in self.modes
            for rule_kind, pattern in m.rules
            if rule_kind == kind
        ]
        return pd.DataFrame(
            [(rank, mode, kind, pattern) for rank, (kind, mode, pattern) in enumerate(rows, start=1)],
            columns=["rule_rank", "mode", "kind", "pattern"],
        ).astype({"rule_rank": "int64"})

    def modes_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                (
                    n,
                    m.mode,
                    m.category,
                    m.description,
                    list(m.aliases),
                    m.mode == self.fallback,
                    self.version,
                    self.source,
                )
                for n, m in enumerate(self.modes, start=1)
            ],
            columns=[
                "position",
                "mode",
                "category",
                "description",
                "aliases",
                "is_fallback",
                "taxonomy_version",
                "source",
            ],
        )


def load(path: Path | None = None) -> Taxonomy:
    """The taxonomy in ``path`` (a team's file), else pir's default; a bad file is one ConfigError line."""
    if path is None:
        text = resources.files("pirlib.failure_modes").joinpath("taxonomy.yaml").read_text(encoding="utf-8")
        return parse(text, DEFAULT_FILE)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"failure_mode_taxonomy: {path} does not exist; create it or unset PIR_FAILURE_MODE_TAXONOMY"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"failure_mode_taxonomy: cannot read {path} ({exc}); fix the file") from None
    return parse(text, str(path))


def parse(text: str, source: str) -> Taxonomy:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}: not valid YAML{line} ({problem}); fix the syntax") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: expected a mapping with `version`, `fallback` and `modes`; see docs/schema.md")
    unknown = set(document) - {"version", "fallback", "modes"}
    if unknown:
        raise ConfigError(f"{source}: unknown key {sorted(unknown)[0]!r}; use version, fallback and modes")
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, (int, float, str)) or not str(version).strip():
        raise ConfigError(f"{source}: `version` is missing; add a line like `version: 1`")
    raw_modes = document.get("modes")
    if not isinstance(raw_modes, list) or not raw_modes:
        raise ConfigError(f"{source}: `modes` must be a non-empty list of modes; see pir's taxonomy.yaml")
    modes = tuple(_mode(source, n, item) for n, item in enumerate(raw_modes))
    _check_unique(source, modes)
    fallback = document.get("fallback")
    if fallback not in [m.mode for m in modes]:
        raise ConfigError(
            f"{source}: `fallback` {fallback!r} is not one of the modes; name the mode for "
            "incidents no rule matches (e.g. Unknown)"
        )
    return Taxonomy(str(version).strip(), fallback, modes, source)


def _strings(source: str, where: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{source}: {where} must be a list of non-empty strings, got {value!r}")
    return tuple(v.strip() for v in value)


def _mode(source: str, n: int, item: Any) -> Mode:
    where = f"modes[{n}]"
    if not isinstance(item, dict) or not isinstance(item.get("mode"), str) or not item["mode"].strip():
        raise ConfigError(f"{source}: {where} needs a `mode:` name")
    where = f"mode {item['mode'].strip()!r}"
    unknown = set(item) - _MODE_KEYS
    if unknown:
        raise ConfigError(f"{source}: {where}: unknown key {sorted(unknown)[0]!r}; use {', '.join(sorted(_MODE_KEYS))}")
    rules = []
    for kind, key in _YAML_KEYS.items():
        for pattern in _strings(source, f"{where}: {key}", item.get(key)):
            rules.append((kind, normalise_phrase(source, where, pattern) if kind == "summary" else pattern))
    text = {key: item.get(key) for key in ("category", "description")}
    for key, value in text.items():
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{source}: {where}: {key} must be text, got {value!r}")
    return Mode(
        item["mode"].strip(),
        text["category"],
        text["description"],
        _strings(source, f"{where}: aliases", item.get("aliases")),
        tuple(rules),
    )


_PHRASE = re.compile(r"[^\W_]+(?: [^\W_]+)*\*?")


def normalise_phrase(source: str, where: str, phrase: str) -> str:
    """A summary rule as the view matches it: lower-case words separated by single spaces, an optional
    trailing ``*`` (the last word may go on). Punctuation is ignored on both sides."""
    words = re.sub(r"[^\w*]+|_", " ", phrase.lower()).strip()
    if not _PHRASE.fullmatch(words):
        raise ConfigError(
            f"{source}: {where}: summary phrase {phrase!r} must be words (a trailing * allowed "
            "for longer words); write it like `rate limit*`"
        )
    return words


def _check_unique(source: str, modes: tuple[Mode, ...]) -> None:
    """A name or alias may stand for one mode only, else the Jira field's value would be ambiguous."""
    owner: dict[str, str] = {}
    for m in modes:
        for name in (m.mode, *m.aliases):
            key = name.casefold()
            if key in owner and owner[key] != m.mode:
                raise ConfigError(f"{source}: {name!r} names both {owner[key]!r} and {m.mode!r}; keep it in one mode")
            if key in owner and name == m.mode:
                raise ConfigError(f"{source}: mode {m.mode!r} is listed twice; merge the two entries")
            owner[key] = m.mode


def store(con: Connection, taxonomy: Taxonomy) -> None:
    """Replace the stored taxonomy and rules with ``taxonomy`` (inside the caller's transaction); a table
    that already holds exactly these rows is left alone, so that a process start writes nothing."""
    for table, frame in (
        ("failure_mode_taxonomy", taxonomy.modes_frame()),
        ("failure_mode_rules", taxonomy.rules_frame()),
    ):
        order = frame.columns[0]  # position, rule_rank
        stored = con.execute(f"SELECT {', '.join(frame.columns)} FROM {table} ORDER BY {order}").fetchall()
        if stored == [tuple(row) for row in frame.itertuples(index=False)]:
            continue
        name = f"_stored_{table}"
        con.register(name, frame)
        try:
            con.execute(f"DELETE FROM {table}")
            con.execute(f"INSERT INTO {table} ({', '.join(frame.columns)}) SELECT * FROM {name}")
        finally:
            con.unregister(name)


def modes(con: Connection) -> list[str]:
    """The stored taxonomy's modes in the file's order (for the guide's picker)."""
    return [row[0] for row in con.execute("SELECT mode FROM failure_mode_taxonomy ORDER BY position").fetchall()]
