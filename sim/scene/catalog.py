"""The scenes shipped inside the package, addressable by name (``fctwin run fc_large``).

A scene reference is either a path to a TOML file or the name of a shipped scene (its file name
without ``.toml``). A path wins when both exist, so a user's own ``fc_small.toml`` in the working
directory is never shadowed by ours.
"""

from __future__ import annotations

import shutil
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

DEFAULT_SCENE = "fc_small"


@dataclass(frozen=True)
class ShippedScene:
    name: str
    kind: str  # "fc" (a floor to run) or "inbound" (a cross-border network for `fctwin inbound`)
    description: str
    path: Path


def _scenes_dir() -> Path:
    # Installed as a regular package (wheel or editable), so the files are real files on disk.
    return Path(str(resources.files("fctwin.scenes")))


def _describe(path: Path) -> ShippedScene:
    text = path.read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    kind = "fc" if "layout" in raw else "inbound"
    description = raw.get("description") or ""
    if not description:
        # Inbound scenes carry a long `name`; their first comment line says what they are.
        first = next((ln for ln in text.splitlines() if ln.startswith("#")), "")
        description = first.lstrip("# ").strip() or str(raw.get("name", ""))
    return ShippedScene(name=path.stem, kind=kind, description=description, path=path)


def shipped_scenes() -> list[ShippedScene]:
    """Every shipped scene, sorted by name."""
    return [_describe(p) for p in sorted(_scenes_dir().glob("*.toml"))]


def shipped_names() -> list[str]:
    return sorted(p.stem for p in _scenes_dir().glob("*.toml"))


def looks_like_name(ref: str) -> bool:
    return bool(ref) and "/" not in ref and "\\" not in ref and not ref.endswith(".toml")


def resolve_scene(ref: str | Path | None) -> Path:
    """The file a scene reference names: an existing path, else a shipped scene's file.

    Raises `FileNotFoundError` with a message that lists the shipped names when neither exists.
    """
    if ref is None:
        ref = DEFAULT_SCENE
    path = Path(ref)
    if path.exists():
        return path
    text = str(ref)
    if looks_like_name(text):
        candidate = _scenes_dir() / f"{text}.toml"
        if candidate.is_file():
            return candidate
        names = ", ".join(shipped_names())
        raise FileNotFoundError(f"no scene file or shipped scene named {text!r} (shipped: {names})")
    raise FileNotFoundError(f"no such scene file: {text}")


def copy_scene(name: str, dest: str | Path = ".") -> Path:
    """Write shipped scene ``name`` to ``dest`` (a folder, or a file path ending in .toml).

    Refuses to overwrite an existing file: a copy is where a user starts editing their own scene.
    Raises `FileNotFoundError` / `FileExistsError` / `NotADirectoryError` with a clear message.
    """
    if not looks_like_name(name) or not (_scenes_dir() / f"{name}.toml").is_file():
        raise FileNotFoundError(f"no shipped scene named {name!r} (shipped: {', '.join(shipped_names())})")
    src = _scenes_dir() / f"{name}.toml"
    dest = Path(dest)
    target = dest if dest.suffix == ".toml" else dest / src.name
    if not target.parent.exists():
        raise NotADirectoryError(f"no such folder: {target.parent}")
    if not target.parent.is_dir():
        raise NotADirectoryError(f"not a folder: {target.parent}")
    if target.exists():
        raise FileExistsError(f"{target} exists; not overwritten")
    shutil.copyfile(src, target)
    return target
