"""A software rasteriser for face rigs: numpy only, good enough to judge lip sync.

Orthographic camera with a slight 3/4 turn, back-face culling, a z-buffer resolved with
``np.minimum.at``, smooth shading (normals interpolated per pixel, Lambert) with a key light, a fill
light and a little specular, and per-vertex albedo: skin, redder lips, a dark mouth socket,
ivory teeth, pink gums and eyes with dark irises, so that a closed mouth (lips together,
no teeth) and an open one (dark gap, teeth) read at a glance. No GPU, no OpenGL: previews
must run on any CI box.

All triangles are rasterised together: each contributes one candidate per pixel of its
screen bounding box (``np.repeat``), barycentric weights are affine in the pixel position,
so the whole frame is a few large array operations instead of a Python loop per triangle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facewire.rig.rig import LIP_LANDMARKS, Rig

# Regions of the ICT topology drawn by default (lacrimal fluid, eye blend/occlusion shells
# and eyelash strips are transparent effects in a real renderer and would only smear here).
DRAWN_REGIONS = ("face", "head_neck", "mouth_socket", "gums_tongue", "teeth",
                 "eyeball_left", "eyeball_right", "eye_socket_left", "eye_socket_right")
SKIN = (0.80, 0.62, 0.52)
LIPS = (0.70, 0.38, 0.38)
COLOURS = {
    "mouth_socket": (0.30, 0.08, 0.08), "gums_tongue": (0.70, 0.30, 0.32),
    "teeth": (0.92, 0.90, 0.82), "eyeball_left": (0.93, 0.93, 0.92),
    "eyeball_right": (0.93, 0.93, 0.92), "eye_socket_left": (0.45, 0.25, 0.22),
    "eye_socket_right": (0.45, 0.25, 0.22),
}
IRIS = (0.20, 0.14, 0.10)
INSIDE_MOUTH = ("mouth_socket", "gums_tongue", "teeth")
# (millimetres behind the lips at which the darkening ends, darkest factor) per region
CAVITY = {"teeth": (60.0, 0.45), "default": (35.0, 0.18)}
BACKGROUND = (0.16, 0.17, 0.20)
KEY_LIGHT = (-0.35, 0.45, 1.0)
FILL_LIGHT = (0.6, -0.1, 0.6)


def _unit(v) -> np.ndarray:
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v)


def rotation(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """View rotation: turn the head by ``yaw`` (about y), then tilt by ``pitch`` (about x)."""
    y, p = np.radians(yaw_deg), np.radians(pitch_deg)
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    return rx @ ry


@dataclass(frozen=True)
class View:
    """Camera: ``yaw`` turns the face to the viewer's left (3/4 view), ``pitch`` tilts it;
    ``focus`` frames the whole face or just the mouth; ``margin`` is the border fraction."""

    yaw: float = 18.0
    pitch: float = 4.0
    focus: str = "face"
    margin: float = 0.06


def _lip_mask(rig: Rig, idx: np.ndarray) -> np.ndarray:
    """Weight 0..1 of 'lip colour' per selected vertex: inside the outer lip contour
    (landmarks 48-59) in the front view, faded over a few millimetres at its border."""
    from matplotlib.path import Path as Poly

    outer = rig.neutral[rig.landmarks68[list(LIP_LANDMARKS[:12])], :2]
    poly = Poly(outer)
    pts = rig.neutral[idx, :2]
    inside = poly.contains_points(pts)
    # distance to the contour, for a soft edge
    seg_a, seg_b = outer, np.roll(outer, -1, axis=0)
    d = np.full(len(pts), np.inf)
    for a, b in zip(seg_a, seg_b):
        ab = b - a
        t = np.clip(((pts - a) @ ab) / max(ab @ ab, 1e-12), 0, 1)
        d = np.minimum(d, np.linalg.norm(pts - (a + t[:, None] * ab), axis=1))
    fade = 1.5 / rig.mm  # 1.5 mm
    w = np.where(inside, 1.0, np.clip(1 - d / fade, 0, 1))
    # only the front surface: the mouth socket behind the lips keeps its own colour
    front = rig.neutral[idx, 2] > rig.neutral[rig.landmarks68[list(LIP_LANDMARKS)], 2].min() - fade
    return w * front


class FaceRenderer:
    """Renders posed vertices ``[V, 3]`` of one rig to RGB images ``[H, W, 3]`` uint8."""

    def __init__(self, rig: Rig, width: int = 512, height: int = 512, view: View | None = None,
                 regions: tuple[str, ...] | None = None) -> None:
        self.rig = rig
        self.width, self.height = int(width), int(height)
        self.view = view or View()
        self.rot = rotation(self.view.yaw, self.view.pitch).astype(np.float32)
        names = regions if regions is not None else DRAWN_REGIONS
        drawn = [n for n in names if n in rig.regions]
        if drawn:
            mask = np.zeros(rig.n_vertices, bool)
            for n in drawn:
                mask[rig.region(n)] = True
        else:
            mask = np.ones(rig.n_vertices, bool)
        faces = rig.faces[mask[rig.faces].all(axis=1)]
        self.vertex_index = np.unique(faces)  # vertices that are drawn
        remap = np.full(rig.n_vertices, -1, np.int64)
        remap[self.vertex_index] = np.arange(len(self.vertex_index))
        self.faces = remap[faces]
        self.albedo = self._albedo()
        half = _unit(np.asarray(KEY_LIGHT) + np.array([0, 0, 1]))
        self._lights = (_unit(KEY_LIGHT), _unit(FILL_LIGHT), half)
        self._frame()
        self._background = self._make_background()

    # -- set-up ------------------------------------------------------------------------

    def _albedo(self) -> np.ndarray:
        rig, idx = self.rig, self.vertex_index
        col = np.tile(np.array(SKIN, np.float32), (len(idx), 1))
        for name, c in COLOURS.items():
            if name in rig.regions:
                a, b = rig.regions[name]
                col[(idx >= a) & (idx < b)] = c
        for eye in ("eyeball_left", "eyeball_right"):
            if eye in rig.regions:
                a, b = rig.regions[eye]
                sel = np.nonzero((idx >= a) & (idx < b))[0]
                if not len(sel):
                    continue
                p = rig.neutral[idx[sel]]
                centre, radius = p.mean(axis=0), (p[:, 1].max() - p[:, 1].min()) / 2
                r2 = (p[:, 0] - centre[0]) ** 2 + (p[:, 1] - centre[1]) ** 2
                iris = (r2 < (0.42 * radius) ** 2) & (p[:, 2] > centre[2])
                col[sel[iris]] = IRIS
        skin = np.all(col == np.array(SKIN, np.float32), axis=1)
        w = _lip_mask(rig, idx)[:, None] * skin[:, None]
        col = col * (1 - w) + np.array(LIPS, np.float32) * w
        return (col * self._cavity(idx)[:, None]).astype(np.float32)

    def _cavity(self, idx: np.ndarray) -> np.ndarray:
        """Darkening of the mouth's inside with depth behind the lips: the light that a real
        mouth shadows, and what makes an open mouth read as a dark gap."""
        rig = self.rig
        out = np.ones(len(idx), np.float32)
        front = rig.neutral[rig.landmarks68[list(LIP_LANDMARKS)], 2].max()
        for name in INSIDE_MOUTH:
            if name in rig.regions:
                a, b = rig.regions[name]
                sel = (idx >= a) & (idx < b)
                depth = (front - rig.neutral[idx[sel], 2]) * rig.mm  # millimetres
                reach, floor = CAVITY.get(name, CAVITY["default"])
                out[sel] = np.clip(1.0 - depth / reach, floor, 1.0)
        return out

    def _frame(self) -> None:
        """Scale and centre from the neutral face (kept fixed, so motion shows as motion)."""
        rig = self.rig
        if self.view.focus == "mouth":
            pts = rig.neutral[rig.landmarks68[list(LIP_LANDMARKS)]]
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            pad = (hi - lo).max() * 0.45
            pts = np.concatenate([pts, [lo - pad, hi + pad]])
        elif "narrow_face" in rig.regions or "face" in rig.regions:
            pts = rig.neutral[rig.region("narrow_face" if "narrow_face" in rig.regions
                                         else "face")]
        else:
            pts = rig.neutral[self.vertex_index]
        p = pts @ self.rot.T
        lo, hi = p.min(axis=0), p.max(axis=0)
        inner = 1 - 2 * self.view.margin
        self.scale = float(min(self.width * inner / max(hi[0] - lo[0], 1e-9),
                               self.height * inner / max(hi[1] - lo[1], 1e-9)))
        self.centre = ((lo + hi) / 2).astype(np.float32)

    def _make_background(self) -> np.ndarray:
        g = np.linspace(1.15, 0.8, self.height, dtype=np.float32)[:, None, None]
        return np.clip(np.array(BACKGROUND, np.float32) * g * np.ones((1, self.width, 1)), 0, 1)

    # -- per frame ---------------------------------------------------------------------

    def project(self, vertices: np.ndarray) -> np.ndarray:
        """Drawn vertices in screen space: x right, y down (pixels), z = depth (smaller is
        nearer)."""
        p = (np.asarray(vertices, np.float32)[self.vertex_index]) @ self.rot.T - self.centre
        out = np.empty_like(p)
        out[:, 0] = p[:, 0] * self.scale + self.width / 2
        out[:, 1] = self.height / 2 - p[:, 1] * self.scale
        out[:, 2] = -p[:, 2] * self.scale
        return out

    def render(self, vertices: np.ndarray) -> np.ndarray:
        """One RGB frame of posed ``vertices`` (all of the rig's vertices, rig units)."""
        s = self.project(vertices)
        f = self.faces
        a, b, c = s[f[:, 0]], s[f[:, 1]], s[f[:, 2]]
        # screen y points down, so a counter-clockwise (front) face has negative area here
        area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
        keep = np.nonzero(area < -1e-9)[0]
        pix, tri, (b0, b1, b2) = self._rasterise(s, f[keep], area[keep])
        image = self._background.copy().reshape(-1, 3)
        if len(pix):
            face = keep[tri]
            nx, ny, nz = self._vertex_normals(s)
            i0, i1, i2 = f[face, 0], f[face, 1], f[face, 2]
            n = [v[i0] * b0 + v[i1] * b1 + v[i2] * b2 for v in (nx, ny, nz)]
            al = self.albedo
            albedo = (al[i0] * b0[:, None] + al[i1] * b1[:, None] + al[i2] * b2[:, None])
            image[pix] = self._shade(n, albedo)
        return (image.reshape(self.height, self.width, 3) * 255 + 0.5).astype(np.uint8)

    def _vertex_normals(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Area-weighted vertex normals (x, y, z arrays) in a right-handed view frame (z toward
        the viewer)."""
        x, y, z = s[:, 0], -s[:, 1], -s[:, 2]
        f0, f1, f2 = self.faces[:, 0], self.faces[:, 1], self.faces[:, 2]
        ux, uy, uz = x[f1] - x[f0], y[f1] - y[f0], z[f1] - z[f0]
        vx, vy, vz = x[f2] - x[f0], y[f2] - y[f0], z[f2] - z[f0]
        fn = (uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx)
        corners = self.faces.ravel()
        return tuple(np.bincount(corners, np.repeat(c, 3), minlength=len(s)).astype(np.float32)
                     for c in fn)

    def _shade(self, n: list[np.ndarray], albedo: np.ndarray) -> np.ndarray:
        """Lambert key + fill light, ambient, a Blinn-Phong highlight; ``n`` unnormalised."""
        nx, ny, nz = n
        inv = 1.0 / (np.sqrt(nx * nx + ny * ny + nz * nz) + 1e-12)
        (kx, ky, kz), (fx, fy, fz), (hx, hy, hz) = self._lights
        key = np.clip((nx * kx + ny * ky + nz * kz) * inv, 0, 1)
        fill = np.clip((nx * fx + ny * fy + nz * fz) * inv, 0, 1)
        h = np.clip((nx * hx + ny * hy + nz * hz) * inv, 0, 1)
        h2 = h * h
        h8 = (h2 * h2) ** 2
        spec = 0.12 * h8 * h8 * h8  # exponent 24
        light = 0.22 + 0.78 * key + 0.22 * fill
        return np.clip(albedo * light[:, None] + spec[:, None], 0, 1)

    def _rasterise(self, s: np.ndarray, f: np.ndarray, area: np.ndarray):
        """Covered pixel index, triangle index and barycentric weights of the nearest
        fragment of each covered pixel."""
        w, h = self.width, self.height
        empty = np.zeros(0, np.float32)
        none = (np.zeros(0, np.int64), np.zeros(0, np.int64), (empty, empty, empty))
        xs, ys, zs = (np.ascontiguousarray(s[f][:, :, k].T) for k in range(3))  # [3, T]
        # barycentric weight k is affine in the pixel centre: b_k = A_k x + B_k y + C_k
        inv = (1.0 / area).astype(np.float32)
        a = np.stack([(ys[1] - ys[2]), (ys[2] - ys[0]), (ys[0] - ys[1])]) * inv
        b = np.stack([(xs[2] - xs[1]), (xs[0] - xs[2]), (xs[1] - xs[0])]) * inv
        c = np.stack([xs[1] * ys[2] - ys[1] * xs[2], xs[2] * ys[0] - ys[2] * xs[0],
                      xs[0] * ys[1] - ys[0] * xs[1]]) * inv
        # rows of pixel centres each triangle spans
        y_lo = np.maximum(np.ceil(ys.min(axis=0) - 0.5), 0).astype(np.int64)
        y_hi = np.minimum(np.floor(ys.max(axis=0) - 0.5), h - 1).astype(np.int64)
        rows = np.maximum(y_hi - y_lo + 1, 0)
        n_rows = int(rows.sum())
        if n_rows == 0:
            return none
        rt = np.repeat(np.arange(len(f)), rows)  # triangle of each (triangle, row)
        ry = y_lo[rt] + np.arange(n_rows) - np.repeat(np.cumsum(rows) - rows, rows)
        # on a row, b_k >= 0 bounds x from one side: the span is exact, no candidates wasted
        yc = ry.astype(np.float32) + 0.5
        off = b[:, rt] * yc + c[:, rt]  # [3, R]: b_k = A_k x + off_k
        ak = a[:, rt]
        with np.errstate(divide="ignore", invalid="ignore"):
            bound = -off / ak
        lo_k = np.where(ak > 0, bound, -np.inf)
        hi_k = np.where(ak < 0, bound, np.inf)
        x_min = np.maximum(np.maximum(lo_k[0], lo_k[1]), lo_k[2])
        x_max = np.minimum(np.minimum(hi_k[0], hi_k[1]), hi_k[2])
        empty = ((ak == 0) & (off < 0)).any(axis=0)
        x_lo = np.maximum(np.ceil(np.maximum(x_min, -1.0) - 0.5), 0).astype(np.int64)
        x_hi = np.minimum(np.floor(np.minimum(x_max, w + 1.0) - 0.5), w - 1).astype(np.int64)
        span = np.where(empty, 0, np.maximum(x_hi - x_lo + 1, 0))
        total = int(span.sum())
        if total == 0:
            return none
        row = np.repeat(np.arange(n_rows), span)
        px = x_lo[row] + np.arange(total) - np.repeat(np.cumsum(span) - span, span)
        py = ry[row]
        t = rt[row]
        x = px.astype(np.float32) + 0.5
        b0 = a[0, t] * x + off[0, row]
        b1 = a[1, t] * x + off[1, row]
        b2 = np.maximum(1 - b0 - b1, 0)
        z = zs[2, t] + b0 * (zs[0, t] - zs[2, t]) + b1 * (zs[1, t] - zs[2, t])
        pix = py * w + px
        zbuf = np.full(w * h, np.inf, np.float32)
        np.minimum.at(zbuf, pix, z)
        win = np.nonzero(z <= zbuf[pix])[0]
        owner = np.full(w * h, -1, np.int64)
        owner[pix[win]] = win  # ties: one of the equally near fragments
        covered = np.nonzero(owner >= 0)[0]
        win = owner[covered]
        return covered, t[win], (np.clip(b0[win], 0, 1), np.clip(b1[win], 0, 1), b2[win])
