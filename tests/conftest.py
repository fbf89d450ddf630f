import copy
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENES = ROOT / "scenes"


@pytest.fixture
def small_scene_dict():
    """fc_small as a dict, shrunk so end-to-end tests run in seconds."""
    raw = tomllib.loads((SCENES / "fc_small.toml").read_text())
    raw = copy.deepcopy(raw)
    raw["fleet"][0]["count"] = 12
    raw["run_hours"] = 0.1
    return raw


@pytest.fixture
def write_scene(tmp_path):
    """Write a scene dict as TOML (tiny writer for the subset scenes use) and return its path."""

    def _fmt(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(_fmt(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {_fmt(x)}" for k, x in v.items()) + " }"
        return repr(v)

    def write(raw: dict, name: str = "scene.toml") -> Path:
        lines = []
        tables = []
        for k, v in raw.items():
            if isinstance(v, dict) or (isinstance(v, list) and v and all(isinstance(x, dict) for x in v)):
                tables.append((k, v))
            else:
                lines.append(f"{k} = {_fmt(v)}")
        for k, v in tables:
            if isinstance(v, list):
                for item in v:
                    lines.append(f"[[{k}]]")
                    lines += [f"{a} = {_fmt(b)}" for a, b in item.items()]
            else:
                lines.append(f"[{k}]")
                for a, b in v.items():
                    lines.append(f"{a} = {_fmt(b)}")
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n")
        return path

    return write


# Let tests import helper modules that live beside them (e.g. trajectory_checker).
import sys as _sys  # noqa: E402

_sys.path.insert(0, str(Path(__file__).resolve().parent))
