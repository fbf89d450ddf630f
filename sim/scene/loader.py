"""Load a scene file: parse TOML, validate (schema, then meaning), compile into a frozen `Scene`.

Every error is a `SceneError` naming the file, the field path and the problem, e.g.
``scenes/bad.toml: fleet[0].count: must be greater than 0``. Nothing downstream re-checks what is
guaranteed here: robots fit the floor, stations sit on walkable cells and are reachable from
storage, every pod is liftable by some drive unit, ids are unique.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pydantic

from fctwin.controller.floorplan import grid_bfs_distance
from fctwin.sim.scene import layout as lay
from fctwin.sim.scene.layout import CellCode, LayoutError
from fctwin.sim.scene.model import DriveUnitDef, PodTable, Scene, SkuTable, StationDef
from fctwin.sim.scene.overrides import OverrideError, apply_overrides
from fctwin.sim.scene.schema import SUPPORTED_SCHEMA_VERSIONS, SceneFile
from fctwin.sim.seeds import stream
from fctwin.sim.textfile import TextFileError, read_text_file


class SceneError(ValueError):
    """A scene that cannot be loaded. ``problems`` lists (field path, message) pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = [f"{source}: {path}: {msg}" if path else f"{source}: {msg}" for path, msg in problems]
        super().__init__("\n".join(lines))


def _loc_to_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("constant", "exponential", "uniform", "lognormal", "gamma", "geometric", "empirical"):
            continue  # discriminated-union tag: not a key the user wrote
        elif part in ("zipf", "abc", "function-after[_ordered(), Uniform]"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def _pydantic_problems(exc: pydantic.ValidationError) -> list[tuple[str, str]]:
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "bool_for_number":
            loc = (*loc, err["ctx"]["key"])
        msg = msg.removeprefix("Value error, ")
        problems.append((_loc_to_path(loc), msg))
    return problems


def load_scene(
    path: str | Path,
    *,
    seed: int | None = None,
    run_hours: float | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Scene:
    """Read, validate and compile a scene file. Raises `SceneError`.

    ``seed`` and ``run_hours`` override the file's values (the CLI's --seed and --hours); the seed
    drives everything random, the initial inventory included. ``overrides`` maps field paths
    (``"fleet[0].count"``, as errors print them) to values, validated like the file (``--set``).
    The file is read once; the scene keeps what it was built from (`Scene.as_data`).
    """
    path = Path(path)
    source = str(path)
    try:
        text = read_text_file(path)
    except FileNotFoundError:
        raise SceneError(source, [("", "no such scene file")]) from None
    except TextFileError as exc:
        raise SceneError(source, [("", str(exc))]) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SceneError(source, [("", f"not valid TOML: {exc}")]) from None
    except RecursionError:
        raise SceneError(source, [("", "not valid TOML: nested too deeply")]) from None
    if "layout" not in raw and any(k in raw for k in ("lanes", "ports", "catalogue")):
        raise SceneError(
            source,
            [("", "an inbound-network scene, not an FC floor: use `fctwin inbound` (or `fctwin validate`)")],
        )
    raw = with_overrides(raw, source, seed=seed, run_hours=run_hours, overrides=overrides)
    scene = scene_from_dict(raw, source=source, base_dir=path.parent)
    object.__setattr__(scene, "text", text)
    return scene


def with_overrides(
    raw: dict,
    source: str,
    *,
    seed: int | None = None,
    run_hours: float | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict:
    """``raw`` with the run's overrides applied (a copy); a bad override is a `SceneError` at its path."""
    changes: dict[str, Any] = dict(overrides or {})
    if seed is not None:
        changes["seed"] = seed
    if run_hours is not None:
        changes["run_hours"] = run_hours
    if not changes:
        return raw
    try:
        return apply_overrides(raw, changes)
    except OverrideError as exc:
        raise SceneError(source, [(exc.path, str(exc).removeprefix(f"{exc.path}: "))]) from None


def scene_from_data(data: Mapping[str, Any], *, dispatch_checks: bool = True) -> Scene:
    """Rebuild a scene from `Scene.as_data` (the fleet host gets its scene this way, never the file).

    ``dispatch_checks=False`` leaves out the checks of the dispatcher's policies and planner (the
    policy registry; importing it loads the planner's kernels): for a process that runs no
    dispatcher, such as the fleet host, whose scene the run's process has already checked. The
    scene built is the same; only those problems would go unreported.
    """
    return scene_from_dict(
        dict(data["raw"]),
        source=str(data["source"]),
        base_dir=Path(data["base_dir"]),
        dispatch_checks=dispatch_checks,
    )


def scene_from_dict(
    raw: dict, *, source: str = "<scene>", base_dir: Path | None = None, dispatch_checks: bool = True
) -> Scene:
    version = raw.get("schema_version")
    if version is None:
        raise SceneError(source, [("schema_version", "required key is missing")])
    # `type(...) is int`: true == 1 and 1.0 == 1 in Python, but neither is a version number.
    if type(version) is not int or version not in SUPPORTED_SCHEMA_VERSIONS:
        supported = ", ".join(map(str, SUPPORTED_SCHEMA_VERSIONS))
        raise SceneError(
            source, [("schema_version", f"unknown schema_version {version!r} (supported: {supported})")]
        )
    try:
        spec = SceneFile.model_validate(raw)
    except pydantic.ValidationError as exc:
        raise SceneError(source, _pydantic_problems(exc)) from None
    base_dir = base_dir or Path(".")
    scene = _compile(spec, source=source, base_dir=base_dir, dispatch_checks=dispatch_checks)
    object.__setattr__(scene, "raw", raw)
    object.__setattr__(scene, "base_dir", str(base_dir))
    return scene


# --------------------------------------------------------------------------- compile + semantic checks


def _build_grid(spec: SceneFile, source: str, base_dir: Path) -> np.ndarray:
    picks = sum(g.count for g in spec.stations if g.kind == "pick" and g.cells is None)
    stows = sum(g.count for g in spec.stations if g.kind == "stow" and g.cells is None)
    try:
        if spec.layout.generator is not None:
            gen = spec.layout.generator
            return lay.generate_blocks(
                lay.BlockParams(
                    blocks_x=gen.blocks_x,
                    blocks_y=gen.blocks_y,
                    block_cols=gen.block_cols,
                    block_rows=gen.block_rows,
                    aisle_cells=gen.aisle_cells,
                    hallway_cells=gen.hallway_cells,
                    pick_stations=picks,
                    stow_stations=stows,
                    docks=gen.docks if spec.docks.cells is None else 0,
                    charging=gen.charging,
                )
            )
        ref = spec.layout.map
        if ref.file is not None:
            map_path = (base_dir / ref.file).resolve()
            if not map_path.exists():
                raise SceneError(source, [("layout.map.file", f"map file not found: {map_path}")])
            return lay.load_ascii_map(map_path)
        return lay.parse_ascii_map("\n".join(ref.rows), source="layout.map.rows", header_lines=0)
    except LayoutError as exc:
        # exc.path is "layout.generator", "layout.map.rows:LINE:COL" or "MAPFILE:LINE:COL".
        path = exc.path if exc.path.startswith("layout") else f"layout.map.file ({exc.path})"
        raise SceneError(source, [(path, exc.message)]) from None


# Station parameters that only some unit types read: anything else is a mistake worth naming.
_STATION_PARAM_UNITS = {
    "arms": ("bluejay",),
    "rows_for_people": ("vulcan",),
    "success_rate": ("vulcan", "bluejay", "sequoia"),
    "fidelity": ("vulcan", "bluejay", "sequoia"),
}


def _station_unit_problems(spec: SceneFile) -> list[tuple[str, str]]:
    """Per-station parameters given for a unit type that does not use them."""
    problems = []
    for i, group in enumerate(spec.stations):
        for name, units in _STATION_PARAM_UNITS.items():
            if name not in group.model_fields_set or group.unit in units:
                continue
            problems.append(
                (f"stations[{i}].{name}", f"only for unit {' / '.join(units)} stations, not {group.unit!r}")
            )
    return problems


def _policy_problems(dispatch) -> list[tuple[str, str]]:
    """Unknown policy names (listing the known ones), broken entry points, bad policy parameters."""
    from fctwin.controller.policies import FAMILIES, PolicyError, make_policy, policy_class
    from fctwin.controller.policies.registry import BUILTIN

    problems = []
    for family in FAMILIES:
        name = getattr(dispatch, family)
        try:
            if name not in BUILTIN[family]:  # built-ins are not imported here (planner kernels)
                policy_class(family, name)
        except PolicyError as exc:
            problems.append((f"dispatch.{family}", str(exc)))
            continue
        params = dispatch.params.get(family)
        if params:
            try:
                make_policy(family, name, params)
            except PolicyError as exc:
                problems.append((f"dispatch.params.{family}", str(exc)))
    for family in dispatch.params:
        if family not in FAMILIES:
            problems.append(
                (f"dispatch.params.{family}", f"no policy family {family!r}; families: {', '.join(FAMILIES)}")
            )
    return problems


def _compile(spec: SceneFile, *, source: str, base_dir: Path, dispatch_checks: bool = True) -> Scene:
    problems: list[tuple[str, str]] = []
    grid = _build_grid(spec, source, base_dir)
    height, width = grid.shape

    def in_bounds(cell) -> bool:
        return 0 <= cell[0] < height and 0 <= cell[1] < width

    # Stations: given cells first (validated), then layout cells in order for each kind.
    layout_cells = {
        "pick": [tuple(map(int, c)) for c in lay.cells_with(grid, CellCode.PICK)],
        "stow": [tuple(map(int, c)) for c in lay.cells_with(grid, CellCode.STOW)],
    }
    # Where each given station cell came from: two stations on one cell would silently share it.
    taken: dict[tuple[int, int], str] = {}
    for i, group in enumerate(spec.stations):
        for j, cell in enumerate(group.cells or []):
            where = f"stations[{i}].cells[{j}]"
            cell = tuple(cell)
            if not in_bounds(cell):
                problems.append((where, f"cell {cell} is outside the {height}x{width} layout"))
            elif grid[cell] in (CellCode.WALL, CellCode.STORAGE, CellCode.DOCK, CellCode.CHARGE):
                problems.append(
                    (where, f"station on a blocked cell {cell} ({CellCode(grid[cell]).name.lower()})")
                )
            elif cell in taken:
                problems.append((where, f"cell {cell} is already the cell of {taken[cell]}"))
            taken.setdefault(cell, where)
    # A given cell that is also a layout station cell (K/U) would hold two stations when a group
    # without 'cells' takes that layout cell.
    for kind in ("pick", "stow"):
        wanted = sum(g.count for g in spec.stations if g.kind == kind and g.cells is None)
        for cell in layout_cells[kind][:wanted]:
            if cell in taken:
                problems.append(
                    (taken[cell], f"cell {cell} is a layout {kind} station cell another group takes")
                )
    problems += _station_unit_problems(spec)
    for kind in ("pick", "stow"):
        wanted = sum(g.count for g in spec.stations if g.kind == kind and g.cells is None)
        have = len(layout_cells[kind])
        if spec.layout.map is not None and wanted != have:
            symbol = "K" if kind == "pick" else "U"
            problems.append(
                (
                    "stations",
                    f"{wanted} {kind} stations without 'cells' but the map has {have} '{symbol}' cells",
                )
            )
    if problems:
        raise SceneError(source, problems)

    stations: list[StationDef] = []
    counters = {"pick": 0, "stow": 0}
    for i, group in enumerate(spec.stations):
        prefix = group.id_prefix or ("P" if group.kind == "pick" else "S")
        for j in range(group.count):
            if group.cells is not None:
                cell = tuple(map(int, group.cells[j]))
                grid[cell] = CellCode.PICK if group.kind == "pick" else CellCode.STOW
            else:
                cell = layout_cells[group.kind][counters[group.kind]]
                counters[group.kind] += 1
            stations.append(
                StationDef(
                    station_id=f"{prefix}{len([s for s in stations if s.kind == group.kind]) + 1}",
                    kind=group.kind,
                    unit=group.unit,
                    cell=cell,
                    group_index=i,
                    config=group,
                )
            )

    # Docks
    if spec.docks.cells is not None:
        for j, cell in enumerate(spec.docks.cells):
            where = f"docks.cells[{j}]"
            if not in_bounds(cell):
                problems.append((where, f"cell {tuple(cell)} is outside the {height}x{width} layout"))
            elif grid[tuple(cell)] in (CellCode.WALL, CellCode.STORAGE):
                problems.append((where, f"dock on a blocked cell {tuple(cell)}"))
            elif grid[tuple(cell)] in (CellCode.PICK, CellCode.STOW, CellCode.CHARGE):
                what = CellCode(grid[tuple(cell)]).name.lower()
                problems.append((where, f"dock on a {what} cell {tuple(cell)}: the {what} would be lost"))
            elif grid[tuple(cell)] == CellCode.DOCK and tuple(cell) in spec.docks.cells[:j]:
                problems.append((where, f"cell {tuple(cell)} is listed twice"))
            else:
                grid[tuple(cell)] = CellCode.DOCK
    dock_cells = [tuple(map(int, c)) for c in lay.cells_with(grid, CellCode.DOCK)]
    replenishing = spec.dispatch.replenishment != "none"  # purchase orders arrive at the dock too
    inbound_on = (
        spec.inbound.cartons_per_h > 0
        or spec.inbound.scenario is not None
        or spec.inbound.strike_wave is not None
        or replenishing
    )
    problems += _strike_wave_problems(spec.inbound.strike_wave, base_dir)
    if not dock_cells and inbound_on:
        problems.append(("docks", "inbound cartons are configured but the layout has no dock"))
    if inbound_on and not any(s.kind == "stow" for s in stations):
        if spec.inbound.scenario is not None:
            field = "inbound.scenario"
        elif spec.inbound.cartons_per_h > 0:
            field = "inbound.cartons_per_h"
        else:
            field = "dispatch.replenishment"
        problems.append(
            (field, "inbound cartons are configured but no stow station puts them away (add a stow station)")
        )

    storage_cells = lay.cells_with(grid, CellCode.STORAGE)
    if spec.pods.count > len(storage_cells):
        problems.append(("pods.count", f"{spec.pods.count} pods but only {len(storage_cells)} storage cells"))

    max_payload = max(g.payload_kg for g in spec.fleet)
    if spec.pods.max_gross_mass_kg > max_payload:
        problems.append(
            (
                "pods.max_gross_mass_kg",
                f"pods up to {spec.pods.max_gross_mass_kg:g} kg are heavier than every drive unit's payload "
                f"(largest {max_payload:g} kg)",
            )
        )
    if spec.pods.empty_mass_kg >= spec.pods.max_gross_mass_kg:
        problems.append(("pods.empty_mass_kg", "empty pod mass must be below max_gross_mass_kg"))

    # Reachability: a loaded unit moves over walkable non-storage cells; every station must connect
    # to an aisle cell next to storage.
    loaded_ok = np.isin(grid, [c for c in lay.WALKABLE_CODES if c != CellCode.STORAGE])
    near_storage = np.zeros_like(loaded_ok)
    st = grid == CellCode.STORAGE
    near_storage[1:, :] |= st[:-1, :]
    near_storage[:-1, :] |= st[1:, :]
    near_storage[:, 1:] |= st[:, :-1]
    near_storage[:, :-1] |= st[:, 1:]
    near_storage &= loaded_ok
    # One BFS from every aisle cell next to storage instead of one per station (144 of them took
    # seconds on a 2,000-unit floor). The same answer: a station's own BFS over loaded_ok reaches
    # such a cell iff the station is one, or a neighbour of it in loaded_ok is connected to one
    # within loaded_ok (moves are symmetric).
    reach = lay.bfs_distance(loaded_ok, [tuple(c) for c in np.argwhere(near_storage).tolist()]) >= 0
    height, width = grid.shape
    for s in stations:
        r, c = s.cell
        linked = bool(near_storage[r, c]) or any(
            0 <= r + dr < height and 0 <= c + dc < width and reach[r + dr, c + dc]
            for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
        )
        if not linked:
            gi = s.group_index
            problems.append(
                (f"stations[{gi}]", f"station {s.station_id} at {s.cell} is unreachable from storage")
            )

    # Fleet: ids, count against free cells, externals.
    # (row, col) tuples of plain ints, converted by `tolist` (a numpy row at a time took ~0.25 s of
    # start-up, in the run's process and again in the fleet host's, on fc_2000's 24,000 storage cells)
    free_start = list(map(tuple, np.asarray(lay.cells_with(grid, CellCode.PARK)).tolist()))
    free_start += list(map(tuple, np.asarray(storage_cells).tolist()))
    free_start += list(map(tuple, np.asarray(lay.cells_with(grid, CellCode.AISLE)).tolist()))
    total_units = sum(g.count for g in spec.fleet)
    if total_units > len(free_start):
        problems.append(
            ("fleet", f"{total_units} drive units but only {len(free_start)} free cells to place them")
        )
    seen_ids: set[str] = set()
    unit_ids: list[list[str]] = []
    for i, group in enumerate(spec.fleet):
        ids = [f"{group.id_prefix}-{k + 1:02d}" for k in range(group.count)]
        for uid in ids:
            if uid in seen_ids:
                problems.append((f"fleet[{i}].id_prefix", f"unit id {uid} is used by two groups"))
                break
            seen_ids.add(uid)
        for j, ext in enumerate(group.external):
            if ext not in ids:
                problems.append(
                    (f"fleet[{i}].external[{j}]", f"no unit {ext!r} in this group ({ids[0]}..{ids[-1]})")
                )
        unit_ids.append(ids)
    station_ids = [s.station_id for s in stations]
    if len(set(station_ids)) != len(station_ids):
        problems.append(("stations", "two station groups produce the same station ids: set id_prefix"))

    problem = planner_problem(spec.dispatch.planner) if dispatch_checks else None
    if problem:
        problems.append(("dispatch.planner", problem))
    elif dispatch_checks:
        problems.extend(_policy_problems(spec.dispatch))
    problems.extend(_labour_problems(spec.labour, stations, spec.run_hours))
    problems.extend(_levers_problems(spec.levers, stations, grid))
    if spec.skus.mass_max_kg < spec.skus.mass_min_kg:
        problems.append(("skus.mass_max_kg", "must be >= mass_min_kg"))
    if any(hi < lo for lo, hi in zip(spec.skus.size_min_m, spec.skus.size_max_m, strict=True)):
        problems.append(("skus.size_max_m", "every size must be >= size_min_m"))
    if problems:
        raise SceneError(source, problems)

    # Place units: park cells, then evenly spread storage cells (under pods, out of the aisles).
    rng_place = stream(spec.seed, "scene.placement")
    order = _spread_order(
        len(free_start), total_units, rng_place, n_first=len(lay.cells_with(grid, CellCode.PARK))
    )
    units: list[DriveUnitDef] = []
    k = 0
    for i, group in enumerate(spec.fleet):
        for uid in unit_ids[i]:
            cell = free_start[order[k]]
            units.append(
                DriveUnitDef(
                    unit_id=uid,
                    group_index=i,
                    config=group,
                    cell=cell,
                    heading=0,
                    external=uid in group.external,
                )
            )
            k += 1

    skus = _make_skus(spec)
    pods = _make_pods(spec, storage_cells, skus, grid, [st.cell for st in stations if st.kind == "pick"])
    step_s = max(_step_time_s(g, spec.layout.cell_size_m) for g in spec.fleet)
    grid.setflags(write=False)
    return Scene(
        source=source,
        spec=spec,
        name=spec.name,
        seed=spec.seed,
        run_s=spec.run_hours * 3600.0,
        cell_size_m=spec.layout.cell_size_m,
        grid=grid,
        units=tuple(units),
        stations=tuple(stations),
        dock_cells=tuple(dock_cells),
        charge_cells=tuple(tuple(map(int, c)) for c in lay.cells_with(grid, CellCode.CHARGE)),
        skus=skus,
        pods=pods,
        step_s=step_s,
    )


def _strike_wave_problems(wave, base_dir: Path) -> list[tuple[str, str]]:
    """The strike wave's network scene loads and has the struck port (cheap: the network itself is
    simulated when the run starts, `fctwin.sim.run.inbound.dock_waves`)."""
    if wave is None:
        return []
    from fctwin.sim.inbound.scene import SceneError as InboundSceneError
    from fctwin.sim.inbound.scene import load_scene as load_inbound

    path = Path(base_dir) / wave.scenario
    if not path.is_file():
        return [("inbound.strike_wave.scenario", f"no inbound-network scene at {path}")]
    try:
        net = load_inbound(path)
    except (InboundSceneError, ValueError) as exc:
        return [("inbound.strike_wave.scenario", f"{path}: {str(exc).splitlines()[0]}")]
    ports = [p.id for p in net.ports if p.side == "destination" and p.kind == "sea"]
    if wave.port not in ports:
        return [
            (
                "inbound.strike_wave.port",
                f"no destination sea port {wave.port!r} in {path.name} (they are: {', '.join(ports)})",
            )
        ]
    return []


def person_worked(stations, labour) -> list:
    """Stations on the labour board: human ones, and Sequoia stow ports with ``sequoia_decant``."""
    return [
        s
        for s in stations
        if s.unit == "human" or (labour.sequoia_decant and s.unit == "sequoia" and s.kind == "stow")
    ]


_CELL_NAMES = {int(c): c.name.lower() for c in CellCode}


def _levers_problems(levers, stations, grid) -> list[tuple[str, str]]:
    """Scheduled floor levers name pick stations that exist and cells drive units may use."""
    picks = [s.station_id for s in stations if s.kind == "pick"]
    H, W = grid.shape
    problems: list[tuple[str, str]] = []

    def cell_problem(cell, allowed) -> str | None:
        r, c = cell
        if not (0 <= r < H and 0 <= c < W):
            return f"cell ({r}, {c}) is off the {H} x {W} floor"
        code = int(grid[r, c])
        if code not in allowed:
            return f"cell ({r}, {c}) is {_CELL_NAMES[code]}"
        return None

    for i, rel in enumerate(levers.release):
        for sid in rel.station_weights or {}:
            if sid not in picks:
                problems.append(
                    (
                        f"levers.release[{i}].station_weights.{sid}",
                        f"no pick station {sid!r} (they are: {', '.join(picks)})",
                    )
                )
    closable = {int(CellCode.AISLE), int(CellCode.PARK)}
    for i, cl in enumerate(levers.closures):
        for j, cell in enumerate(cl.cells):
            why = cell_problem(cell, closable)
            if why:
                problems.append(
                    (f"levers.closures[{i}].cells[{j}]", f"{why}: only aisle and park cells close")
                )
    usable = {int(c) for c in CellCode} - {int(CellCode.WALL), int(CellCode.DOCK)}
    for i, ow in enumerate(levers.one_way):
        a, b = sorted(ow.cols if ow.row is not None else ow.rows)
        cells = (
            [(ow.row, c) for c in range(a, b + 1)]
            if ow.row is not None
            else [(r, ow.col) for r in range(a, b + 1)]
        )
        for cell in cells:
            why = cell_problem(cell, usable)
            if why:
                problems.append((f"levers.one_way[{i}]", f"{why}: a one-way rule runs over cells units use"))
                break
    for i, pp in enumerate(levers.preposition):
        if pp.station not in picks:
            problems.append(
                (
                    f"levers.preposition[{i}].station",
                    f"no pick station {pp.station!r} (they are: {', '.join(picks)})",
                )
            )
    return problems


def _labour_problems(labour, stations, run_hours: float) -> list[tuple[str, str]]:
    """The labour plan names person-worked stations that exist, within the per-station limit; its
    shifts are sound (`fctwin.sim.scene.shifts`)."""
    from fctwin.sim.scene.shifts import shift_problems

    human = [s.station_id for s in person_worked(stations, labour)]
    problems = []
    if labour.sequoia_decant and not any(s.unit == "sequoia" and s.kind == "stow" for s in stations):
        problems.append(("labour.sequoia_decant", "no Sequoia stow station in this scene"))
    for sid, n in labour.staffing.items():
        if sid not in human:
            problems.append(
                (f"labour.staffing.{sid}", f"no person-worked station {sid!r} (they are: {', '.join(human)})")
            )
        elif n > labour.max_per_station:
            problems.append(
                (f"labour.staffing.{sid}", f"{n} associates exceed max_per_station {labour.max_per_station}")
            )
    total = sum(labour.staffing.get(sid, 1) for sid in human)
    if labour.pool is not None and labour.pool < total:
        problems.append(("labour.pool", f"{labour.pool} associates cannot staff the plan's {total}"))
    for j, o in enumerate(labour.outages):
        if o.station not in human:
            problems.append((f"labour.outages[{j}].station", f"no person-worked station {o.station!r}"))
    problems.extend(shift_problems(labour, human, run_hours))
    return problems


def planner_problem(name: str) -> str | None:
    """Why built-in planner ``name`` cannot run an FC scene: it is one-shot only (None otherwise).

    Unknown names are the policy registry's to judge (`_policy_problems`: entry points may add
    planners).
    """
    from fctwin.controller.planning import LIFELONG_PLANNERS, PLANNERS

    if name in PLANNERS and name not in LIFELONG_PLANNERS:
        return (
            f"planner {name!r} solves one-shot problems (every unit to one goal) and cannot run a"
            f" building; use one of: {', '.join(sorted(LIFELONG_PLANNERS))}"
        )
    return None


def _spread_order(n_cells: int, n_units: int, rng: np.random.Generator, *, n_first: int) -> list[int]:
    """Indices of cells for units: the first ``n_first`` (park) cells, then a seeded random spread."""
    first = list(range(min(n_first, n_units)))
    rest = rng.permutation(np.arange(n_first, n_cells))[: n_units - len(first)]
    return first + [int(x) for x in rest]


def _step_time_s(group, cell_size_m: float) -> float:
    """Duration of one action step.

    A forward step is charged the mean per-cell time of a 5-cell straight run with a trapezoidal
    speed profile (accelerate, cruise, brake), so acceleration costs time on average without a
    continuous-time model; a step is never shorter than a 90-degree turn.
    """
    run_m = 5 * cell_size_m
    v, a = group.max_speed_mps, group.accel_mps2
    ramp_m = v * v / a  # accelerate + brake distance
    if ramp_m >= run_m:
        run_s = 2.0 * math.sqrt(run_m / a)
    else:
        run_s = 2.0 * v / a + (run_m - ramp_m) / v
    return round(max(run_s / 5.0, group.turn_90_s), 6)


def _make_skus(spec: SceneFile) -> SkuTable:
    n = spec.skus.count
    rng = stream(spec.seed, "scene.skus")
    pop = spec.skus.popularity
    if pop.kind == "zipf":
        weights = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** pop.exponent
    else:
        weights = np.zeros(n)
        start = 0
        for i, cls in enumerate(pop.classes):
            k = n - start if i == len(pop.classes) - 1 else int(round(cls.share_of_skus * n))
            k = max(0, min(k, n - start))
            if k:
                weights[start : start + k] = cls.share_of_demand / k
            start += k
    demand_prob = weights / weights.sum()
    lo, hi = np.array(spec.skus.size_min_m), np.array(spec.skus.size_max_m)
    size_m = lo + rng.random((n, 3)) * (hi - lo)
    mass_kg = spec.skus.mass_min_kg + rng.random(n) * (spec.skus.mass_max_kg - spec.skus.mass_min_kg)
    family = None
    if spec.skus.families is not None:
        # its own stream: declaring families leaves sizes and masses as they were
        perm = stream(spec.seed, "scene.families").permutation(n)
        family = np.empty(n, dtype=np.int32)
        family[perm] = np.arange(n, dtype=np.int32) // spec.skus.families.size
    for arr in (demand_prob, size_m, mass_kg, family):
        if arr is not None:
            arr.setflags(write=False)
    return SkuTable(demand_prob=demand_prob, size_m=size_m, mass_kg=mass_kg, family=family)


def _storage_distance(grid: np.ndarray, storage_cells: np.ndarray, pick_cells: list) -> np.ndarray:
    """Mean loaded-path cells from each storage cell to the pick stations (as the dispatcher measures)."""
    loaded_ok = np.isin(grid, [CellCode.AISLE, CellCode.PICK, CellCode.STOW, CellCode.CHARGE, CellCode.PARK])
    rows, cols = storage_cells[:, 0], storage_cells[:, 1]
    total = np.zeros(len(storage_cells))
    for cell in pick_cells:
        passable = loaded_ok.copy()
        passable[rows, cols] = True  # a pod leaves and enters its cell from the aisle
        d = grid_bfs_distance(passable, [cell])[rows, cols].astype(np.float64)
        total += np.where(d < 0, d.max() + 10.0, d)
    return total / max(1, len(pick_cells))


def _make_pods(
    spec: SceneFile, storage_cells: np.ndarray, skus: SkuTable, grid: np.ndarray, pick_cells: list
) -> PodTable:
    """Place pods on storage cells and fill them: every SKU on at least one pod, popular SKUs on more.

    ``pods.placement`` "random" (the default) draws cells and SKU mixing at random; the other
    methods are slotting (`fctwin.controller.slotting.placement`), the affinity ones learning from a
    history of ``pods.placement_history_orders`` orders sampled from the scene's demand model.
    """
    p = spec.pods
    rng = stream(spec.seed, "scene.pods")
    n_skus = len(skus.demand_prob)
    units_per_slot = max(1, int(p.capacity_units * p.initial_fill_frac) // p.skus_per_pod)
    if p.placement == "random":
        chosen = np.sort(rng.choice(len(storage_cells), size=p.count, replace=False))
        slots = p.count * p.skus_per_pod
        base = rng.permutation(n_skus)[: min(n_skus, slots)]
        extra = rng.choice(n_skus, size=slots - len(base), p=skus.demand_prob) if slots > len(base) else []
        sku_per_slot = np.concatenate([base, np.asarray(extra, dtype=np.int64)]).astype(np.int32)
        sku_per_slot = rng.permutation(sku_per_slot).reshape(p.count, p.skus_per_pod)
    else:
        from fctwin.controller.slotting.placement import place_pods
        from fctwin.sim.demand_model import sample_history

        history = None
        if p.placement in ("affinity", "combined"):
            history = sample_history(
                skus.demand_prob,
                skus.family,
                spec.orders,
                seed=spec.seed,
                n_orders=p.placement_history_orders or max(20000, 5 * n_skus),
            )
        chosen, sku_per_slot = place_pods(
            method=p.placement,
            rng=rng,
            demand_prob=skus.demand_prob,
            n_pods=p.count,
            slots=p.skus_per_pod,
            units_per_slot=units_per_slot,
            cell_dist=_storage_distance(grid, storage_cells, pick_cells),
            history=history,
        )
        sku_per_slot = np.ascontiguousarray(sku_per_slot, dtype=np.int32)
    cells = storage_cells[chosen].astype(np.int32)
    pod_units = np.where(sku_per_slot >= 0, units_per_slot, 0).astype(np.int32)
    # A SKU drawn twice for one pod: merge into the first slot so each (pod, sku) is one slot. Rows
    # read as plain lists, and only those with a repeat walked (element by element from numpy, the
    # 20,000 pods of fc_2000 took ~0.2 s of start-up in each process).
    for i, row in enumerate(sku_per_slot.tolist()):
        if len(set(row)) == len(row):
            continue
        seen: dict[int, int] = {}
        for j, s in enumerate(row):
            if s in seen:
                pod_units[i, seen[s]] += pod_units[i, j]
                sku_per_slot[i, j] = -1
                pod_units[i, j] = 0
            else:
                seen[s] = j
    # Respect the pod's gross-mass limit: scale units down where heavy SKUs would exceed it.
    mass = np.where(sku_per_slot >= 0, skus.mass_kg[np.maximum(sku_per_slot, 0)], 0.0)
    gross = p.empty_mass_kg + (mass * pod_units).sum(axis=1)
    budget = p.max_gross_mass_kg - p.empty_mass_kg
    over = gross > p.max_gross_mass_kg
    if np.any(over):
        scale = budget / (gross[over] - p.empty_mass_kg)
        pod_units[over] = np.floor(pod_units[over] * scale[:, None]).astype(np.int32)
    for arr in (cells, sku_per_slot, pod_units):
        arr.setflags(write=False)
    return PodTable(
        home_cells=cells,
        slot_sku=sku_per_slot,
        slot_units=pod_units,
        empty_mass_kg=p.empty_mass_kg,
        max_gross_mass_kg=p.max_gross_mass_kg,
        capacity_units=p.capacity_units,
    )
