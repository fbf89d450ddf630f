"""The browser console: a viser server drawing one run, finished (replay) or going on (live).

What it draws, in world metres (x = column, y = -row, z up, so a top-down view reads like the map):

- the floor as one image (aisles, storage, pick/stow stations, docks, chargers, parking, walls);
- drive units as one batched mesh coloured by state (`STATES`), pods as another: stored pods
  translucent blue-grey, carried pods solid orange-red and lifted, so a unit under a pod stays visible;
- a congestion heat overlay (one image above the floor) of waits and vetoes over the last N minutes;
- a label per station with its queue, and the simulated clock, KPI panels with time series,
  station types, recommendations with Accept/Reject (live runs with an `AdviceInbox`).

Everything is batched and pushed inside ``server.atomic()``: one update of 500 units and their pods
costs under a millisecond of server time (FIELD_NOTES). The page is viser's client, served from
its wheel: no CDN, works offline.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from fctwin.sim.console.data import STATE_COLORS, STATES, FloorFrame, RunData

__all__ = ["Console"]

FLOOR_COLORS = {
    0: (236, 236, 236),  # aisle
    1: (40, 40, 40),  # wall
    2: (205, 212, 222),  # storage
    3: (120, 200, 130),  # pick station
    4: (120, 170, 230),  # stow station
    5: (170, 120, 80),  # dock
    6: (250, 225, 90),  # charger
    7: (215, 215, 190),  # parking
}
STORED_POD = (90, 105, 135)
CARRIED_POD = (215, 60, 40)
TYPE_NAMES = {"human": "people", "vulcan": "Vulcan", "bluejay": "Blue Jay", "sequoia": "Sequoia"}
TYPE_COLORS = {"human": "#1f77b4", "vulcan": "#ff7f0e", "bluejay": "#2ca02c", "sequoia": "#9467bd"}
MINUTES = {"x": {"time": False}}  # plot x axes are run minutes, not dates
POD_MODES = ("3D", "flat", "off")
FLAT_PODS_ABOVE = 1000
POD_TILE_PX = 4  # pixels per cell of the pod-tile image (square tiles with a gap)
SPEEDS = ("1x", "10x", "60x", "300x", "1200x")
GUI_PANEL_PX = 400  # width of viser's GUI panel with control_width="large", margins included
LABEL_MARGIN_M = 6.0  # station labels stand left and right of the floor
# Pods are drawn as their shelf only (from 0.55 m up; legs left out), so a unit under a pod stays
# visible from the side and, through the translucent shelf, from above.
UNIT_H_M, POD_BASE_M, POD_H_M, LIFT_M = 0.4, 0.55, 0.9, 0.2


def _box(sx: float, sy: float, sz: float) -> tuple[np.ndarray, np.ndarray]:
    """Vertices float32[8, 3] and faces uint32[12, 3] of a box standing on z = 0."""
    x, y = sx / 2, sy / 2
    v = np.array(
        [[-x, -y, 0], [x, -y, 0], [x, y, 0], [-x, y, 0], [-x, -y, sz], [x, -y, sz], [x, y, sz], [-x, y, sz]],
        dtype=np.float32,
    )
    f = np.array(
        [
            [0, 2, 1],
            [0, 3, 2],
            [4, 5, 6],
            [4, 6, 7],
            [0, 1, 5],
            [0, 5, 4],
            [1, 2, 6],
            [1, 6, 5],
            [2, 3, 7],
            [2, 7, 6],
            [3, 0, 4],
            [3, 4, 7],
        ],
        dtype=np.uint32,
    )
    return v, f


def _unit_mesh(cell_m: float) -> tuple[np.ndarray, np.ndarray]:
    """A low box with a nose block toward +x, so heading shows from above."""
    v1, f1 = _box(0.8 * cell_m, 0.8 * cell_m, UNIT_H_M)
    v2, f2 = _box(0.25 * cell_m, 0.3 * cell_m, UNIT_H_M + 0.08)
    v2 = v2 + np.array([0.3 * cell_m, 0, 0], np.float32)
    return np.concatenate([v1, v2]), np.concatenate([f1, f2 + 8]).astype(np.uint32)


def _heading_wxyz(heading: np.ndarray) -> np.ndarray:
    """Quarter turns (0 = +x, counter-clockwise seen from above) to unit quaternions float32[N, 4]."""
    half = heading.astype(np.float32) * (np.pi / 4)
    out = np.zeros((len(heading), 4), np.float32)
    out[:, 0] = np.cos(half)
    out[:, 3] = np.sin(half)
    return out


def _heat_rgba(heat: np.ndarray, px: int = 4) -> np.ndarray:
    """uint8[H*px, W*px, 4]: transparent where nothing waited, yellow to red where most did
    (square cells: the browser smooths textures, so each cell is ``px`` pixels)."""
    h = np.sqrt(heat / max(float(heat.max()), 1.0))
    out = np.zeros((*heat.shape, 4), np.uint8)
    out[..., 0] = 255
    out[..., 1] = (230 * (1 - h)).astype(np.uint8)
    out[..., 3] = np.where(h > 0.15, 60 + 170 * h, 0).astype(np.uint8)
    return np.repeat(np.repeat(out, px, axis=0), px, axis=1)


class Console:
    """One viser server showing one run (see the module docstring).

    ``data``: the run's `RunData`. ``live``: a `LiveFeed` when the run is going on (its frames are
    drawn as they come; the timeline takes over when the run ends). ``advice``: an `AdviceInbox`
    for Accept/Reject (live advise runs only). ``port`` 0 picks a free port.
    """

    def __init__(
        self,
        data: RunData,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        live=None,
        advice=None,
        heat_window_min: float = 10.0,
        verbose: bool = False,
    ) -> None:
        import viser

        self.data = data
        self.live = live
        self.advice = advice
        if port == 0:
            import socket

            with socket.socket() as s:
                s.bind((host, 0))
                port = s.getsockname()[1]
        self.server = viser.ViserServer(
            host=host, port=port, label=f"fctwin {data.scene_name}", verbose=verbose
        )
        self.port = self.server.get_port()
        self.url = f"http://{host}:{self.port}/"
        self.cell_m = data.cell_size_m
        self.t_s = 0.0
        self.playing = False
        self.speed = 60.0
        self.heat_window_s = heat_window_min * 60.0
        # Above FLAT_PODS_ABOVE pods, stored pods are drawn as floor tiles by default (View panel).
        self.pods_mode = "flat" if len(data.pod_home) > FLAT_PODS_ABOVE else "3D"
        self._tiles_at = -1e9
        self._gui_at = -1e9
        self._head_sent = ""
        self._heat_at = -1e9
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self._rec_cards: dict[int, list] = {}
        self._kpi_len = -1
        self.frames_drawn = 0
        # CPU seconds of the console's own thread (the web server's thread is not counted)
        self.cpu_s = {"refresh": 0.0, "frames": 0.0, "panels": 0.0}
        self.draw_s = 0.0  # wall time spent in `show` (in the console's thread)
        self._build_scene()
        self._build_gui()
        self.show(self.data.frame_at(0.0))
        self._thread = threading.Thread(target=self._loop, name="fctwin-console", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ scene

    def _xy(self, rc: np.ndarray) -> np.ndarray:
        """float32[N, 2] world x, y of (row, col) cells."""
        out = np.empty((len(rc), 2), np.float32)
        out[:, 0] = rc[:, 1] * self.cell_m
        out[:, 1] = -rc[:, 0] * self.cell_m
        return out

    def _build_scene(self) -> None:
        d, sc, cm = self.data, self.server.scene, self.cell_m
        sc.set_up_direction("+z")
        # No environment map: drei's presets are HDR files fetched from a CDN (not offline), and the
        # default lighting washes colours out. Plain ambient + one sun keep state colours true.
        sc.configure_environment_map(None)
        sc.configure_default_lights(False)
        sc.add_light_ambient("/light/ambient", intensity=1.2)
        sc.add_light_directional("/light/sun", intensity=1.5, wxyz=(0.924, 0.383, 0.0, 0.0))
        h, w = d.grid.shape
        self.center = np.array([(w - 1) / 2 * cm, -(h - 1) / 2 * cm, 0.0])
        self.span = max(h, w) * cm
        img = np.zeros((h, w, 3), np.uint8)
        for code, color in FLOOR_COLORS.items():
            img[d.grid == code] = color
        # one image for the whole floor, nearest-neighbour scaled (png keeps the cells sharp)
        big = np.repeat(np.repeat(img, 8, axis=0), 8, axis=1)
        sc.add_image(
            "/floor", big, w * cm, h * cm, format="png", position=tuple(self.center), cast_shadow=False
        )
        # Stored pods as flat tiles on the floor: one textured quad instead of thousands of translucent
        # boxes, which software WebGL draws at a few frames a second (docs/console.md, fluidity).
        self.pod_tiles = sc.add_image(
            "/pod_tiles",
            np.zeros((h * 4, w * 4, 4), np.uint8),
            w * cm,
            h * cm,
            format="png",
            position=(self.center[0], self.center[1], 0.01),
            cast_shadow=False,
            receive_shadow=False,
        )
        self.heat_handle = sc.add_image(
            "/heat",
            _heat_rgba(np.zeros((h, w), np.float32)),
            w * cm,
            h * cm,
            format="png",
            position=(self.center[0], self.center[1], 0.02),
            cast_shadow=False,
            receive_shadow=False,
        )
        n, p = len(d.unit_ids), len(d.pod_home)
        uv, uf = _unit_mesh(cm)
        self.units = sc.add_batched_meshes_simple(
            "/units",
            uv,
            uf,
            batched_wxyzs=np.tile(np.array([1, 0, 0, 0], np.float32), (max(n, 1), 1))[:n],
            batched_positions=np.zeros((n, 3), np.float32),
            batched_colors=np.zeros((n, 3), np.uint8),
            cast_shadow=False,
            receive_shadow=False,
        )
        pv, pf = _box(0.85 * cm, 0.85 * cm, POD_H_M)
        pv = pv + np.array([0, 0, POD_BASE_M], np.float32)
        self.pods = sc.add_batched_meshes_simple(
            "/pods",
            pv,
            pf,
            batched_wxyzs=np.tile(np.array([1, 0, 0, 0], np.float32), (max(p, 1), 1))[:p],
            batched_positions=np.zeros((p, 3), np.float32),
            batched_colors=np.tile(np.array(STORED_POD, np.uint8), (max(p, 1), 1))[:p],
            opacity=0.25,
            cast_shadow=False,
            receive_shadow=False,
        )
        # Carried pods: one slot per drive unit, on its back (hidden when it carries nothing). Stored
        # pods move only when set down, so their big array is sent only when it changed.
        self.carried = sc.add_batched_meshes_simple(
            "/carried_pods",
            pv + np.array([0, 0, LIFT_M], np.float32),
            pf,
            batched_wxyzs=np.tile(np.array([1, 0, 0, 0], np.float32), (max(n, 1), 1))[:n],
            batched_positions=np.full((n, 3), -50.0, np.float32),
            batched_colors=np.tile(np.array(CARRIED_POD, np.uint8), (max(n, 1), 1))[:n],
            cast_shadow=False,
            receive_shadow=False,
        )
        self._stored_sent: np.ndarray | None = None
        self.pods.visible = self.pods_mode == "3D"
        self.pod_tiles.visible = self.pods_mode == "flat"
        self.station_labels = []
        self._label_text = [""] * len(d.stations)
        self._label_extra = [""] * len(d.stations)  # station-type status (arms, hand-offs, totes)
        for s in d.stations:
            r, c = s["cell"]
            self.station_labels.append(
                sc.add_label(
                    f"/stations/{s['id']}",
                    s["id"],
                    position=(c * cm, -r * cm, 2.0),
                    anchor="bottom-center",
                    font_screen_scale=1.2,
                )
            )
        for k, (r, c) in enumerate(d.floor.get("dock_cells", [])[:40]):
            sc.add_label(f"/docks/{k}", "dock", position=(c * cm, -r * cm, 0.3), font_screen_scale=0.6)
        for k, (r, c) in enumerate(d.floor.get("charge_cells", [])[:40]):
            sc.add_label(f"/chargers/{k}", "⚡", position=(c * cm, -r * cm, 0.3), font_screen_scale=0.7)
        ic = self.server.initial_camera
        ic.position = tuple(self.center + np.array([0.0, -0.55 * self.span, 0.45 * self.span]))
        ic.look_at = tuple(self.center)

    def set_camera(self, view: str) -> None:
        """ "top" (straight down, north up) or "free" (oblique) on every connected browser."""
        for client in self.server.get_clients().values():
            if view == "top":
                pos, look = self._top_view(client.camera)
            else:
                pos = self.center + np.array([0.0, -0.55 * self.span, 0.45 * self.span])
                look = self.center
            with client.atomic():
                client.camera.up_direction = (0.0, 0.0, 1.0)
                client.camera.position = tuple(pos)
                client.camera.look_at = tuple(look)

    def _top_view(self, camera) -> tuple[np.ndarray, np.ndarray]:
        """Camera position and target straight above the floor, so that the whole floor and its
        labels fit in the part of this browser's canvas the GUI panel leaves free (the panel floats
        over the canvas's right side: ``GUI_PANEL_PX``)."""
        h, w = self.data.grid.shape
        fw, fh = w * self.cell_m + 2 * LABEL_MARGIN_M, h * self.cell_m
        width_px, height_px = int(camera.image_width or 0), int(camera.image_height or 0)
        fov = float(camera.fov or 0.0)
        if width_px <= 0 or height_px <= 0 or not 0.05 < fov < 3.0:  # not reported yet
            return self.center + np.array([0.0, -0.001, 0.62 * self.span]), self.center
        free_px = width_px - GUI_PANEL_PX if width_px > 2 * GUI_PANEL_PX else width_px
        # pixels per metre at distance d: height_px / (2 d tan(fov / 2)); fill 90% of the free part
        per_m_at_1 = height_px / (2.0 * np.tan(fov / 2.0))
        dist = per_m_at_1 * max(fw / (0.9 * free_px), fh / (0.9 * height_px))
        shift_m = (width_px - free_px) / 2.0 / (per_m_at_1 / dist)  # floor centred in the free part
        look = self.center + np.array([shift_m, 0.0, 0.0])
        return look + np.array([0.0, -0.001, dist]), look

    # ------------------------------------------------------------------ GUI

    def _build_gui(self) -> None:
        gui, d = self.server.gui, self.data
        gui.configure_theme(control_width="large")
        self.md_head = gui.add_markdown(self._head_text())
        with gui.add_folder("Timeline"):
            self.btn_play = gui.add_button("Play", icon=None)
            self.btn_play.on_click(lambda _e: self.toggle_play())
            self.dd_speed = gui.add_dropdown("Speed", SPEEDS, initial_value="60x")
            self.dd_speed.on_update(lambda _e: self._set_speed(self.dd_speed.value))
            self.sl_time = gui.add_slider("Time (s)", 0.0, max(d.t_end, 1.0), d.step_s, 0.0)
            self.sl_time.on_update(lambda _e: self._on_slider())
            self.cb_follow = gui.add_checkbox(
                "Follow live run", self.live is not None, visible=self.live is not None
            )
        with gui.add_folder("View"):
            gui.add_button("Top-down camera").on_click(lambda _e: self.set_camera("top"))
            gui.add_button("Free camera").on_click(lambda _e: self.set_camera("free"))
            self.cb_heat = gui.add_checkbox("Congestion heat", True)
            self.cb_heat.on_update(lambda _e: self._toggle_heat())
            self.nb_heat = gui.add_number(
                "Heat window (min)", self.heat_window_s / 60, min=1, max=240, step=1
            )
            self.nb_heat.on_update(lambda _e: self._set_heat_window())
            self.dd_pods = gui.add_dropdown("Stored pods", POD_MODES, initial_value=self.pods_mode)
            self.dd_pods.on_update(lambda _e: self._set_pods_mode(self.dd_pods.value))
            gui.add_markdown(self._legend())
        with gui.add_folder("KPIs"):
            self.md_kpi = gui.add_markdown("")
            empty = (np.zeros(0), np.zeros(0))
            self.plots = {
                "units/h": gui.add_uplot(
                    empty,
                    ({"label": "min"}, {"label": "units/h", "stroke": "#1f77b4"}),
                    title="Units picked per hour",
                    aspect=2.0,
                    scales=MINUTES,
                ),
                "queues": gui.add_uplot(
                    empty + (np.zeros(0),),
                    (
                        {"label": "min"},
                        {"label": "queue mean", "stroke": "#ff7f0e"},
                        {"label": "backlog", "stroke": "#d62728"},
                    ),
                    title="Queue and backlog",
                    aspect=2.0,
                    scales=MINUTES,
                ),
                "util": gui.add_uplot(
                    empty + (np.zeros(0),) * 2,
                    (
                        {"label": "min"},
                        {"label": "pick", "stroke": "#2ca02c"},
                        {"label": "stow", "stroke": "#9467bd"},
                        {"label": "units", "stroke": "#8c564b"},
                    ),
                    title="Utilisation",
                    aspect=2.0,
                    scales=MINUTES,
                ),
                "stock": gui.add_uplot(
                    empty + (np.zeros(0),),
                    (
                        {"label": "min"},
                        {"label": "lines backordered", "stroke": "#e377c2"},
                        {"label": "SKUs out of stock", "stroke": "#7f7f7f"},
                    ),
                    title="Stock-outs",
                    aspect=2.0,
                    scales=MINUTES,
                ),
            }
        with gui.add_folder("Station types"):
            self.md_types = gui.add_markdown("")
            types = list(dict.fromkeys(s["unit"] for s in d.stations))
            self._types = types
            self.plot_types = gui.add_uplot(
                (np.zeros(0),) * (1 + len(types)),
                (
                    {"label": "min"},
                    *(
                        {"label": TYPE_NAMES.get(u, u), "stroke": TYPE_COLORS.get(u, "#555555")}
                        for u in types
                    ),
                ),
                title="Units per minute by station type",
                aspect=2.0,
                scales=MINUTES,
            )
            arm_types = [u for u in types if u in ("vulcan", "bluejay")]
            self._arm_types = arm_types
            self.plot_handoffs = None
            if arm_types:
                self.plot_handoffs = gui.add_uplot(
                    (np.zeros(0),) * (1 + len(arm_types)),
                    (
                        {"label": "min"},
                        *(
                            {"label": TYPE_NAMES.get(u, u), "stroke": TYPE_COLORS.get(u, "#555555")}
                            for u in arm_types
                        ),
                    ),
                    title="Items handed to people per minute",
                    aspect=2.0,
                    scales=MINUTES,
                )
            self.md_station_detail = gui.add_markdown("")
        self.folder_recs = gui.add_folder("Recommendations")
        with self.folder_recs:
            self.md_recs = gui.add_markdown("_no recommendations yet_")

    def _legend(self) -> str:
        chips = " ".join(
            f'<span style="color:rgb{tuple(int(x) for x in STATE_COLORS[k])}">■</span> {name}'
            for k, name in enumerate(STATES)
        )
        return (
            f"**Units** {chips}<br>**Pods** stored: translucent blue-grey (3D) or floor tiles (flat),"
            " carried: solid red, lifted"
            "<br>**Floor** pick green, stow blue, dock brown, charger yellow"
        )

    def _head_text(self) -> str:
        d = self.data
        mode = "live" if self.live is not None and not self.live.ended else "replay"
        return (
            f"### {d.scene_name} · {mode}\n**{d.clock(self.t_s)}**"
            f" (t = {self.t_s:,.0f} s of {max(d.t_end, self.t_s):,.0f} s)"
            f"<br>run `{d.run_id}`"
        )

    def toggle_play(self) -> None:
        self.playing = not self.playing
        self.btn_play.label = "Pause" if self.playing else "Play"
        if self.live is not None and self.playing:
            self.cb_follow.value = False

    def _set_speed(self, text: str) -> None:
        self.speed = float(text.rstrip("x"))

    def _on_slider(self) -> None:
        if self._setting_slider:
            return
        with self._lock:
            if self.live is not None:
                self.cb_follow.value = False
            self.seek(float(self.sl_time.value))

    _setting_slider = False

    def _set_pods_mode(self, mode: str) -> None:
        """ "3D" (translucent shelves), "flat" (tiles on the floor) or "off"; carried pods always show."""
        with self._lock:
            self.pods_mode = mode
            self.pods.visible = mode == "3D"
            self.pod_tiles.visible = mode == "flat"
            self._stored_sent = None  # resend the stored pods in the new form
            self._tiles_at = -1e9
            if self.live is None or self.live.ended:
                self.show(self.data.frame_at(self.t_s))

    def _toggle_heat(self) -> None:
        self.heat_handle.visible = self.cb_heat.value

    def _set_heat_window(self) -> None:
        self.heat_window_s = float(self.nb_heat.value) * 60.0
        self._heat_at = -1e9

    # ------------------------------------------------------------------ drawing

    def seek(self, t_s: float) -> None:
        """Show the recorded floor at ``t_s`` (clamped to what is recorded)."""
        with self._lock:
            self.t_s = float(min(max(t_s, 0.0), self.data.t_end))
            self.show(self.data.frame_at(self.t_s))

    def show(self, fr: FloorFrame) -> None:
        """Push one floor frame, its clock and its labels."""
        t0 = time.perf_counter()
        seen = ~np.isnan(fr.unit_rc[:, 0])
        upos = np.zeros((len(fr.unit_rc), 3), np.float32)
        upos[:, :2] = self._xy(np.nan_to_num(fr.unit_rc))
        upos[~seen, 2] = -50.0  # not reported yet: out of sight below the floor
        ucol = STATE_COLORS[fr.unit_state]
        ppos = np.zeros((len(fr.pod_rc), 3), np.float32)
        ppos[:, :2] = self._xy(fr.pod_rc)
        ppos[fr.pod_carried, 2] = -50.0  # drawn by the carried-pod mesh instead
        changed = self._stored_sent is None or not np.array_equal(ppos, self._stored_sent)
        now = time.perf_counter()
        mode = self.pods_mode
        # tiles are one PNG to encode: at most twice a second while playing or following a live run
        # (a set-down shows late by up to half a second), at once when paused or scrubbing
        moving = self.playing or (self.live is not None and not self.live.ended)
        send_tiles = mode == "flat" and changed and (not moving or now - self._tiles_at >= 0.5)
        send_pods = mode == "3D" and changed
        cpos = upos.copy()
        cpos[~fr.unit_loaded, 2] = -50.0
        with self.server.atomic():
            if len(upos):
                self.units.batched_positions = upos
                self.units.batched_colors = ucol
                self.units.batched_wxyzs = _heading_wxyz(fr.unit_heading)
            if len(ppos) and send_pods:
                self.pods.batched_positions = ppos
                self._stored_sent = ppos
            if len(ppos) and send_tiles:
                self.pod_tiles.image = self._tiles(fr)
                self._stored_sent = ppos
                self._tiles_at = now
            if len(cpos):
                self.carried.batched_positions = cpos
            self._push_labels(fr.station_queue)
        self.t_s = fr.t_s
        # The clock and the slider re-render the browser's whole GUI panel (markdown tables, plots):
        # at 10 Hz that held the page to a few frames a second on fc_large in software WebGL
        # (benchmarks/console_fluidity.py), so they follow at most twice a second while playing or
        # following a live run.
        if not moving or now - self._gui_at >= 0.5:
            self._gui_at = now
            head = self._head_text()
            if head != self._head_sent:
                self._head_sent = head
                self.md_head.content = head
            self._setting_slider = True
            try:
                top = max(self.data.t_end, 1.0)
                if top != self.sl_time.max:
                    self.sl_time.max = top
                self.sl_time.value = float(min(fr.t_s, top))
            finally:
                self._setting_slider = False
        self.frames_drawn += 1
        self.draw_s += time.perf_counter() - t0

    def _push_labels(self, queue: np.ndarray) -> None:
        """Station labels: id, kind/type, queue and the type's status (one message per changed label)."""
        self._last_queue = queue
        for k, label in enumerate(self.station_labels):
            s = self.data.stations[k]
            q = int(queue[k]) if k < len(queue) else 0
            text = f"{s['id']} {s['kind']}/{s['unit']} · queue {q}{self._label_extra[k]}"
            if self._label_text[k] != text:
                self._label_text[k] = text
                label.text = text

    _last_queue = np.zeros(0, np.int32)

    def _tiles(self, fr: FloorFrame) -> np.ndarray:
        """uint8[H*px, W*px, 4]: a tile (with a one-pixel gap) under each stored pod."""
        h, w = self.data.grid.shape
        px = POD_TILE_PX
        occ = np.zeros((h, w), bool)
        rc = fr.pod_rc[~fr.pod_carried].astype(np.int64)
        ok = (rc[:, 0] >= 0) & (rc[:, 0] < h) & (rc[:, 1] >= 0) & (rc[:, 1] < w)
        occ[rc[ok, 0], rc[ok, 1]] = True
        cell = np.zeros((px, px), bool)
        cell[: px - 1, : px - 1] = True
        mask = np.kron(occ, cell).astype(bool)
        out = np.zeros((h * px, w * px, 4), np.uint8)
        out[mask] = (*STORED_POD, 230)
        return out

    def update_panels(self, force: bool = False) -> None:
        """Heat overlay, KPI panels, station types and recommendation cards at the current time."""
        d, t = self.data, self.t_s
        if force or abs(t - self._heat_at) >= 30.0:
            self._heat_at = t
            if len(d.pose_t):
                self.heat_handle.image = _heat_rgba(d.heat(t, self.heat_window_s))
        m, picked = d.kpi_series("units_picked", t)
        if force or len(m) != self._kpi_len:
            self._kpi_len = len(m)
            self._update_kpis(t)
        key = (t, len(d.line_end), self.heat_window_s)
        if force or key != self._types_key:
            self._types_key = key
            self._update_station_types(t)
        self._update_recs()

    _types_key: tuple = ()

    def _update_station_types(self, t: float) -> None:
        """The station-type views: per-type table, units and hand-offs per minute, and per type
        Vulcan hand-offs, Blue Jay arms busy, Sequoia totes; plus a status on each station label."""
        d = self.data
        if not d.has_station_lines:
            self.md_types.content = self._types_text(t)  # runs recorded before station lines
            return
        live_going = self.live is not None and not self.live.ended
        if live_going and len(d.kpi.get("t_s", ())):
            t = min(t, float(d.kpi["t_s"][-1]))  # lines are committed with each minute
        win = self.heat_window_s
        view = d.station_view(t, win)
        fr = self.live.latest if live_going else None
        if fr is not None and fr.station_serving is not None:
            # busy now from the telemetry: the lines in progress are not in the store yet; a Blue
            # Jay line's units are known only when it ends, so its arms now read "serving" / "idle"
            for k, row in enumerate(view):
                row["busy"] = bool(fr.station_serving[k]) if k < len(fr.station_serving) else False
                if row["unit"] == "bluejay":
                    row["arms_busy"] = None
        series = d.station_series(t)
        if series:
            m = next(iter(series.values()))[0]
            self.plot_types.data = (m, *(series[u][1] for u in self._types))
            if self.plot_handoffs is not None:
                self.plot_handoffs.data = (m, *(series[u][2] for u in self._arm_types))
        self.md_types.content = _types_table(view, d.clock(t), win)
        self.md_station_detail.content = _type_details(view, win)
        extra = []
        for row in view:
            if row["unit"] == "bluejay":
                extra.append(f" · arms {_arms_now(row)}")
            elif row["unit"] == "vulcan":
                extra.append(f" · to people {row['to_person']}")
            elif row["unit"] == "sequoia":
                extra.append(f" · totes {row['lines']}")
            else:
                extra.append("")
        if extra != self._label_extra:
            self._label_extra = extra
            self._push_labels(self._last_queue)

    def _update_kpis(self, t: float) -> None:
        d = self.data
        m, picked = d.kpi_series("units_picked", t)
        rate = np.diff(np.concatenate([[0.0], picked])) * 60.0 if len(m) else np.zeros(0)
        self.plots["units/h"].data = (m, rate)
        self.plots["queues"].data = (m, d.kpi_series("queue_mean", t)[1], d.kpi_series("backlog", t)[1])
        self.plots["util"].data = (
            m,
            d.kpi_series("pick_utilisation", t)[1],
            d.kpi_series("stow_utilisation", t)[1],
            d.kpi_series("unit_utilisation", t)[1],
        )
        self.plots["stock"].data = (
            m,
            d.kpi_series("lines_backordered", t)[1],
            d.kpi_series("skus_out_of_stock", t)[1],
        )
        row = d.kpi_row_at(t)
        if row:
            hours = max(row.get("t_s", 0.0) / 3600.0, 1e-9)
            last = float(rate[-1]) if len(rate) else 0.0
            g = {k: (v if v == v else 0.0) for k, v in row.items()}  # NaN (column absent) -> 0

            def n(key: str) -> str:
                return f"{g.get(key, 0.0) or 0.0:,.0f}"

            def f2(key: str) -> str:
                return f"{g.get(key, 0.0) or 0.0:.2f}"

            per_h = f"{g.get('units_picked', 0.0) / hours:,.0f}/h; last minute {last:,.0f}/h"
            rows = [
                ("units picked", f"{n('units_picked')} ({per_h})"),
                ("units stowed", n("units_stowed")),
                ("orders done / open", f"{n('orders_completed')} / {n('orders_open')}"),
                ("backlog (lines)", n("backlog")),
                ("queue mean", f2("queue_mean")),
                (
                    "utilisation pick / stow / units",
                    f"{f2('pick_utilisation')} / {f2('stow_utilisation')} / {f2('unit_utilisation')}",
                ),
                ("backordered lines / SKUs out", f"{n('lines_backordered')} / {n('skus_out_of_stock')}"),
                ("vetoed moves / collisions", f"{n('moves_vetoed')} / {n('collisions')}"),
            ]
            self.md_kpi.content = "| KPI | value |\n|---|---|\n" + "\n".join(
                f"| {k} | {v} |" for k, v in rows
            )

    def _types_text(self, t: float) -> str:
        d = self.data
        stype = {s["id"]: s["unit"] for s in d.stations}
        rows: dict[str, list] = {}
        for s in d.stations:
            r = rows.setdefault(s["unit"], [0, 0, 0, 0])
            r[0] += 1
        k = int(np.searchsorted(d.ev_t, t, side="right"))
        for i in range(k):
            kind = d.ev_kind[i]
            if kind in ("line_picked", "carton_stowed"):
                u = stype.get(d.ev_subject[i])
                if u is not None:
                    rows[u][1 if kind == "line_picked" else 2] += 1
                    rows[u][3] += int(d.ev_c[i] or 0)
        q = d.station_queues(t)
        busy: dict[str, int] = {}
        for j, s in enumerate(d.stations):
            busy[s["unit"]] = busy.get(s["unit"], 0) + int(q[j] > 0)
        names = {
            "human": "people",
            "vulcan": "Vulcan (stow/pick arm hand-offs)",
            "bluejay": "Blue Jay (arms)",
            "sequoia": "Sequoia (totes)",
        }
        out = "| type | stations | busy now | lines picked | cartons stowed | units |\n"
        out += "|---|---|---|---|---|---|\n"
        for u, (n, lp, cs, units) in rows.items():
            out += f"| {names.get(u, u)} | {n} | {busy.get(u, 0)} | {lp:,} | {cs:,} | {units:,} |\n"
        return out

    # ------------------------------------------------------------------ recommendations

    def _update_recs(self) -> None:
        recs = self.data.recommendations()
        t = self.t_s
        shown = [r for r in recs if r["t_s"] <= t + 1e-9] if self.live is None else recs
        if not shown:
            return
        self.md_recs.content = f"{len(shown)} recommendation(s); newest first."
        can_decide = self.advice is not None and self.live is not None and not self.live.ended
        for rec in reversed(shown[-8:]):
            rid = int(rec["rec_id"])
            state = (rec.get("decision"), can_decide)
            have = self._rec_cards.get(rid)
            if have is not None and have[0] == state:
                continue
            if have is not None:
                for h in have[1]:
                    h.remove()
            handles = []
            with self.folder_recs:
                handles.append(self.server.gui.add_markdown(_card(rec, self.data)))
                if can_decide and not rec.get("applied") and rec.get("decision") is None:
                    b_ok = self.server.gui.add_button("Accept", color="green")
                    b_no = self.server.gui.add_button("Reject", color="red")
                    b_ok.on_click(lambda _e, rid=rid: self.decide(rid, True))
                    b_no.on_click(lambda _e, rid=rid: self.decide(rid, False))
                    handles += [b_ok, b_no]
            self._rec_cards[rid] = (state, handles)

    def decide(self, rec_id: int, accepted: bool) -> None:
        """An operator's answer: queued for the simulation's thread (`AdviceInbox`)."""
        if self.advice is not None:
            self.advice.submit(rec_id, accepted)
            have = self._rec_cards.get(rec_id)
            if have is not None:
                for h in have[1][1:]:
                    h.disabled = True

    # ------------------------------------------------------------------ loop

    def _loop(self) -> None:
        period = 0.1
        last = time.perf_counter()
        panels_at = refresh_at = 0.0
        cpu = self.cpu_s
        while not self._stop.is_set():
            time.sleep(period)
            now = time.perf_counter()
            dt, last = now - last, now
            try:
                with self._lock:
                    live = self.live
                    c0 = time.thread_time()
                    # A fast run commits a simulated minute many times a wall second: re-read the
                    # store at most once a second (each read is Python work holding the GIL that
                    # the simulation's thread waits for).
                    if (
                        live is not None
                        and live.minute_flag.is_set()
                        and (live.ended or now - refresh_at >= 1.0)
                    ):
                        live.minute_flag.clear()
                        refresh_at = now
                        self.data.refresh()
                    c1 = time.thread_time()
                    cpu["refresh"] += c1 - c0
                    if live is not None and not live.ended and self.cb_follow.value:
                        fr = live.latest
                        if fr is not None and fr.t_s != self.t_s:
                            self.show(fr)
                    elif (
                        live is not None and live.ended and live.latest is not None and not self._ended_shown
                    ):
                        self._ended_shown = True
                        self.data.refresh()
                        self.seek(self.data.t_end)
                    elif self.playing:
                        t = self.t_s + dt * self.speed
                        if t >= self.data.t_end:
                            t = self.data.t_end
                            self.toggle_play()
                        self.seek(t)
                    c2 = time.thread_time()
                    cpu["frames"] += c2 - c1
                    if now - panels_at > 1.0:
                        panels_at = now
                        if live is None and not self.data.summary:
                            self.data.refresh()  # `fctwin view` on a run another process still writes
                        self.update_panels()
                    cpu["panels"] += time.thread_time() - c2
            except Exception as exc:  # a drawing error must not kill the console thread
                print(f"fctwin console: {exc!r}")

    _ended_shown = False

    def wait(self) -> None:
        """Serve until interrupted (Ctrl-C)."""
        try:
            while not self._stop.is_set():
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.server.stop()


def _fmt(v) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items())
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def _card(rec: dict, data: RunData) -> str:
    status = "applied" if rec.get("applied") else (rec.get("decision") or "open")
    lines = [
        f"**#{rec['rec_id']} · {data.clock(rec['t_s'])} · {rec['kind']}** ({status})",
        "",
        str(rec["text"]),
    ]
    for key in ("predicted", "realised", "evidence", "horizon_s"):
        if rec.get(key) is not None:
            lines.append(f"- *{key}*: {_fmt(rec[key])}")
    return "\n".join(lines)


def _arms_now(row: dict) -> str:
    """A Blue Jay cell's arms now: ●●○ (replay), or serving / idle (live: line units not known yet)."""
    if row.get("arms_busy") is None:
        return "serving" if row["busy"] else "idle"
    return "●" * row["arms_busy"] + "○" * (row["arms"] - row["arms_busy"])


def _bar(share: float, width: int = 10) -> str:
    full = int(round(max(0.0, min(share, 1.0)) * width))
    return "█" * full + "░" * (width - full) + f" {100 * share:.0f}%"


def _types_table(view: list[dict], clock: str, window_s: float) -> str:
    """One row per station type: stations, busy now, lines, units, handed to people, utilisation."""
    agg: dict[str, list] = {}
    for r in view:
        a = agg.setdefault(r["unit"], [0, 0, 0, 0, 0, 0.0])
        a[0] += 1
        a[1] += r["busy"]
        a[2] += r["lines"]
        a[3] += r["units"]
        a[4] += r["to_person"]
        a[5] += r["util"]
    out = f"_{clock}; utilisation over the last {window_s / 60:g} min (the View panel's window)_\n\n"
    out += "| type | stations | busy now | lines | units | to people | utilisation |\n"
    out += "|---|---|---|---|---|---|---|\n"
    for u, (n, busy, lines, units, handed, util) in agg.items():
        out += (
            f"| {TYPE_NAMES.get(u, u)} | {n} | {busy} | {lines:,} | {units:,} | {handed:,} "
            f"| {100 * util / n:.0f}% |\n"
        )
    return out


def _type_details(view: list[dict], window_s: float) -> str:
    """Vulcan hand-offs, Blue Jay arms, Sequoia totes: the station types' own figures."""
    parts = []
    mins = f"{window_s / 60:g} min"
    vulcan = [r for r in view if r["unit"] == "vulcan"]
    if vulcan:
        t = "**Vulcan hand-offs**: items the arm gave up on and handed to a person\n\n"
        t += f"| station | kind | units | to people | share | last {mins} |\n|---|---|---|---|---|---|\n"
        for r in vulcan:
            share = r["to_person"] / r["units"] if r["units"] else 0.0
            t += (
                f"| {r['id']} | {r['kind']} | {r['units']:,} | {r['to_person']:,} | {100 * share:.1f}% "
                f"| {r['to_person_win']} of {r['units_win']} |\n"
            )
        parts.append(t)
    bluejay = [r for r in view if r["unit"] == "bluejay"]
    if bluejay:
        arms = max(r["arms"] for r in bluejay)
        t = f"**Blue Jay arms busy** (share of the last {mins}; a line of u units works min(u, arms))\n\n"
        t += "| cell | now | " + " | ".join(f"arm {a + 1}" for a in range(arms)) + " |\n"
        t += "|---|---|" + "---|" * arms + "\n"
        for r in bluejay:
            cells = [_bar(r["arm_util"][a]) if a < r["arms"] else "" for a in range(arms)]
            t += f"| {r['id']} | {_arms_now(r)} | " + " | ".join(cells) + " |\n"
        parts.append(t)
    sequoia = [r for r in view if r["unit"] == "sequoia"]
    if sequoia:
        t = "**Sequoia** (one tote move per line: decant and store, or present for picking)\n\n"
        t += f"| port | kind | totes moved | totes/h (last {mins}) | units | utilisation |\n"
        t += "|---|---|---|---|---|---|\n"
        for r in sequoia:
            per_h = r["lines_win"] * 3600.0 / window_s
            what = "decanted" if r["kind"] == "stow" else "picked"
            t += (
                f"| {r['id']} | {r['kind']} | {r['lines']:,} | {per_h:,.0f} | {r['units']:,} {what} "
                f"| {_bar(r['util'], 6)} |\n"
            )
        parts.append(t)
    return "\n\n".join(parts)
