"""Field-path overrides of a scene (``--set fleet[0].count=20``), in the syntax validation errors use.

A path is dotted keys with list indices, exactly as `SceneError` prints them: ``orders.rate_per_h``,
``fleet[0].count``, ``stations[1].service_s.mean``. An override may set any key the file could
hold; the result is validated like the file itself, so a bad value is reported at its path.
"""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Mapping
from typing import Any

_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)")
_INDEX = re.compile(r"\[(\d+)\]")


class OverrideError(ValueError):
    """An override that names no place in the scene, or whose text is not a value. ``path`` says which."""

    def __init__(self, path: str, message: str):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


def parse_path(path: str) -> list[str | int]:
    """``"fleet[0].count"`` -> ``["fleet", 0, "count"]``; raises `OverrideError` on bad syntax."""
    if not path or path != path.strip():
        raise OverrideError(path, "empty field path" if not path.strip() else "spaces around the field path")
    out: list[str | int] = []
    for piece in path.split("."):
        m = _PART.fullmatch(piece)
        if m is None:
            raise OverrideError(path, f"not a field path (at {piece!r}; expected key or key[index])")
        out.append(m.group(1))
        out.extend(int(i) for i in _INDEX.findall(m.group(2)))
    return out


def parse_value(text: str) -> Any:
    """A TOML value (``20``, ``0.5``, ``true``, ``"pibt"``, ``[1, 2]``); bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    if re.fullmatch(r"[A-Za-z_][\w\-./]*", text) and text not in ("true", "false", "inf", "nan"):
        return text  # a bare word: a planner name, a file name, ...
    raise OverrideError("", f'{text!r} is not a value (write numbers, true/false, "text" or [lists])')


def parse_assignment(text: str) -> tuple[str, Any]:
    """``"fleet[0].count=20"`` -> ``("fleet[0].count", 20)``."""
    path, sep, value = text.partition("=")
    if not sep:
        raise OverrideError(text, "expected FIELD=VALUE, e.g. orders.rate_per_h=700")
    path = path.strip()
    parse_path(path)
    try:
        return path, parse_value(value.strip())
    except OverrideError as exc:
        raise OverrideError(path, str(exc)) from None


def apply_overrides(raw: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``raw`` with each ``{path: value}`` set; the input is left alone.

    A list index must name an existing entry (a scene's lists are its fleets, stations, ...: an
    override changes one, it does not invent one); a missing key is created, and validation then
    rejects it if the schema has no such key.
    """
    out = copy.deepcopy(dict(raw))
    for path, value in overrides.items():
        parts = parse_path(str(path))
        node: Any = out
        where = ""
        for k, part in enumerate(parts):
            last = k == len(parts) - 1
            if isinstance(part, int):
                if not isinstance(node, list):
                    raise OverrideError(path, f"{where or 'the scene'} is not a list")
                if part >= len(node):
                    raise OverrideError(path, f"{where} has {len(node)} entries; no index {part}")
                label = f"{where}[{part}]"
                if last:
                    node[part] = value
                else:
                    node = node[part]
            else:
                if not isinstance(node, dict):
                    raise OverrideError(path, f"{where} is a value, not a table")
                label = f"{where}.{part}" if where else part
                if last:
                    node[part] = value
                else:
                    if part not in node:
                        node[part] = [] if isinstance(parts[k + 1], int) else {}
                    node = node[part]
            where = label
    return out
