"""Synthetic worlds: small, procedural, deterministic stand-ins for the papers' datasets.

The compression papers evaluate on horse->zebra (unpaired, CycleGAN),
edges->shoes and Cityscapes labels->photo (paired, pix2pix).  Those datasets are
large downloads; the worlds below are shaped like them but are drawn by a few
lines of NumPy, so every chapter can train and evaluate on a laptop CPU:

* :class:`StripesWorld` (``"stripes"``, unpaired): plain brown animals on
  grass (domain A) and striped ones (domain B).  Because we drew the scene, we
  also know the *oracle*: the striped rendering of exactly the scene of an A
  image, the "true" target no real unpaired dataset can give.
* :class:`Edges2ShapesWorld` (``"edges2shapes"``, paired): an edge map (A) and
  the shaded object it outlines (B).
* :class:`Labels2SceneWorld` (``"labels2scene"``, paired): a Cityscapes-coloured
  label map of a street (A) and a textured rendering of it (B).

Every sample is a pure function of ``(seed, split, domain, index)``: its scene
is drawn from ``np.random.default_rng([seed, split_id, domain_id, index])``, so
any sample can be generated alone and in any order.  Scene parameters are drawn
in normalised ``[0, 1]`` coordinates, so the same ``(seed, index)`` gives the
same scene at every resolution (only pixel-level grain differs).  Images are
``uint8`` arrays of shape ``H x W x 3``; sizes must be multiples of 4, at least
16.

Explained in the book chapter ``nb/02_worlds``, section ``sec-worlds``.
"""
from __future__ import annotations

import colorsys
import math
from functools import lru_cache
from typing import Any, ClassVar, Dict, List, Optional, Sequence, Tuple, Type, Union

import numpy as np

from ..errors import GancompError, ImageSizeError

__all__ = [
    "UnknownTaskError",
    "SyntheticWorld",
    "StripesWorld",
    "Edges2ShapesWorld",
    "Labels2SceneWorld",
    "WORLDS",
    "get_world",
    "check_size",
    "SPLITS",
    "DOMAINS",
    "MIN_SIZE",
    "WORLD_VERSION",
]

#: split name -> the ``split_id`` mixed into every sample's seed ("val" = "test")
SPLITS: Dict[str, int] = {"train": 0, "test": 1, "val": 1}
#: domain name -> the ``domain_id`` mixed into every sample's seed
DOMAINS: Dict[str, int] = {"A": 0, "B": 1}
#: smallest image side the worlds draw
MIN_SIZE = 16
#: the version of the drawing code.  What a world draws is fixed by
#: ``(task, seed, split, domain, index, size)`` and this number, which files
#: keyed by their data (score tables) record instead of the images' bits:
#: NumPy's vectorised ``cos``, ``arctan2`` and ``power`` round differently on
#: AVX-512, AVX2 and ARM, so one recipe's uint8 images differ between CPUs in
#: a few pixels by one grey level.  Raise it with any change that alters an
#: image (``tests/test_cpu_independence.py`` pins a summary of each world).
WORLD_VERSION = 1

Array = np.ndarray
Scene = Dict[str, Any]


class UnknownTaskError(GancompError, ValueError):
    """A task (world), split or domain name that gancomp-lite does not know."""


# --------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------
def check_size(size: int) -> int:
    """Return ``size`` if it is a valid image side, else raise :class:`ImageSizeError`."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise ImageSizeError(f"image size must be an int, got {size!r} ({type(size).__name__})")
    size = int(size)
    if size < MIN_SIZE or size % 4:
        raise ImageSizeError(
            f"image size must be a multiple of 4 and at least {MIN_SIZE}; got {size}")
    return size


def _split_id(split: str) -> int:
    try:
        return SPLITS[split]
    except (KeyError, TypeError):
        raise UnknownTaskError(
            f"unknown split {split!r}; expected one of {sorted(SPLITS)}") from None


def _domain_id(domain: Union[str, int]) -> int:
    if domain in (0, 1) and not isinstance(domain, bool):
        return int(domain)
    try:
        return DOMAINS[domain]  # type: ignore[index]
    except (KeyError, TypeError):
        raise UnknownTaskError(
            f"unknown domain {domain!r}; expected 'A' or 'B'") from None


def _check_index(index: int) -> int:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f"sample index must be a non-negative int, got {index!r}")
    return int(index)


# --------------------------------------------------------------------------
# small vectorised drawing kit (all coordinates normalised to [0, 1])
# --------------------------------------------------------------------------
@lru_cache(maxsize=256)
def _interp_weights(points: int, size: int) -> Tuple[Array, Array]:
    """Left control point and weight of each of ``size`` pixels between ``points`` controls.

    The control points span ``[0, 1]`` (first at 0, last at 1); pixel centres
    sit at ``(i + 0.5) / size``.  Weights are bilinear with a smoothstep on the
    fraction, which hides the grid better than plain linear weights.
    """
    u = (np.arange(size, dtype=np.float64) + 0.5) / size * (points - 1)
    i0 = np.clip(np.floor(u).astype(np.int64), 0, points - 2)
    t = u - i0
    t = (t * t * (3.0 - 2.0 * t)).astype(np.float32)
    i0.setflags(write=False)
    t.setflags(write=False)
    return i0, t


def smooth_noise(grid: Array, height: int, width: Optional[int] = None) -> Array:
    """Upsample a coarse control grid ``(..., gh, gw)`` to ``(..., height, width)``.

    This is value noise: random control values, smoothly interpolated (first
    along rows, then along columns).  The grid is drawn once per scene, so the
    texture is the same at every resolution.
    """
    width = height if width is None else width
    grid = np.asarray(grid, np.float32)
    iy, ty = _interp_weights(grid.shape[-2], height)
    ix, tx = _interp_weights(grid.shape[-1], width)
    rows = grid[..., iy, :] * (1.0 - ty)[:, None] + grid[..., iy + 1, :] * ty[:, None]
    return rows[..., ix] * (1.0 - tx) + rows[..., ix + 1] * tx


def _grain(seed: int, size: int) -> Array:
    """Per-pixel standard normal grain (the only resolution-dependent texture)."""
    return np.random.default_rng([seed, size]).standard_normal((size, size), dtype=np.float32)


def _coords(size: int) -> Tuple[Array, Array]:
    """Pixel-centre coordinates: ``ys`` of shape ``(size, 1)``, ``xs`` of shape ``(1, size)``."""
    c = (np.arange(size, dtype=np.float32) + 0.5) / size
    return c[:, None], c[None, :]


def _window(size: int, x0: float, x1: float, y0: float, y1: float
            ) -> Optional[Tuple[Tuple[slice, slice], Array, Array]]:
    """Pixels whose centres may fall in the normalised box, with their coordinates.

    Returns ``((row_slice, col_slice), ys, xs)`` or ``None`` if the box misses
    the image.  Drawing inside the window instead of the whole image keeps
    many small objects cheap.
    """
    c0 = max(0, int(math.floor(x0 * size)) - 1)
    c1 = min(size, int(math.ceil(x1 * size)) + 1)
    r0 = max(0, int(math.floor(y0 * size)) - 1)
    r1 = min(size, int(math.ceil(y1 * size)) + 1)
    if c1 <= c0 or r1 <= r0:
        return None
    xs = ((np.arange(c0, c1, dtype=np.float32) + 0.5) / size)[None, :]
    ys = ((np.arange(r0, r1, dtype=np.float32) + 0.5) / size)[:, None]
    return (slice(r0, r1), slice(c0, c1)), ys, xs


def _rotate(xs: Array, ys: Array, cx: float, cy: float, theta: float) -> Tuple[Array, Array]:
    """Coordinates in a frame centred at ``(cx, cy)`` and turned by ``theta``."""
    c, s = math.cos(theta), math.sin(theta)
    dx, dy = xs - cx, ys - cy
    return dx * c + dy * s, dy * c - dx * s


def _ellipse_sdf(xs: Array, ys: Array, cx: float, cy: float, a: float, b: float,
                 theta: float = 0.0) -> Tuple[Array, Array, Array]:
    """Approximate signed distance to an ellipse (negative inside), and local (u, v).

    First-order estimate ``(k - 1) / |grad k|`` with ``k`` the ellipse's level
    function: exact on the boundary, which is all antialiasing and edge lines
    need.
    """
    u, v = _rotate(xs, ys, cx, cy, theta)
    ua, vb = u / a, v / b
    k = np.sqrt(ua * ua + vb * vb)
    g = np.sqrt((ua / a) ** 2 + (vb / b) ** 2)
    ratio = np.maximum(k / (g + 1e-12), min(a, b))
    return (k - 1.0) * ratio, u, v


def _capsule_sdf(xs: Array, ys: Array, x0: float, y0: float, x1: float, y1: float,
                 r: float) -> Tuple[Array, Array]:
    """Signed distance to a thick segment, and the distance along it from its start."""
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy + 1e-12
    px, py = xs - x0, ys - y0
    h = np.clip((px * dx + py * dy) / length2, 0.0, 1.0)
    ex, ey = px - h * dx, py - h * dy
    return np.sqrt(ex * ex + ey * ey) - r, h * math.sqrt(length2)


def _box_sdf(xs: Array, ys: Array, cx: float, cy: float, hw: float, hh: float,
             r: float = 0.0, theta: float = 0.0) -> Array:
    """Signed distance to a (rounded, rotated) rectangle of half sizes ``hw, hh``."""
    u, v = _rotate(xs, ys, cx, cy, theta)
    r = min(r, hw, hh)
    qx = np.abs(u) - (hw - r)
    qy = np.abs(v) - (hh - r)
    outside = np.sqrt(np.maximum(qx, 0.0) ** 2 + np.maximum(qy, 0.0) ** 2)
    inside = np.minimum(np.maximum(qx, qy), 0.0)
    return outside + inside - r


def _polygon_sdf(xs: Array, ys: Array, points: Sequence[Tuple[float, float]]) -> Array:
    """Signed distance-like function of a convex polygon (counter-clockwise or not).

    The maximum of the distances to the edges' lines: exact inside and along
    the edges, slightly mitred at the corners outside.
    """
    pts = np.asarray(points, np.float64)
    centre = pts.mean(axis=0)
    d = None
    for i in range(len(pts)):
        (ax, ay), (bx, by) = pts[i], pts[(i + 1) % len(pts)]
        nx, ny = by - ay, ax - bx  # a normal of the edge
        norm = math.hypot(nx, ny)
        nx, ny = nx / norm, ny / norm
        if (centre[0] - ax) * nx + (centre[1] - ay) * ny > 0:  # point it outwards
            nx, ny = -nx, -ny
        di = (xs - ax) * nx + (ys - ay) * ny
        d = di if d is None else np.maximum(d, di)
    assert d is not None
    return d


def _blob_sdf(xs: Array, ys: Array, cx: float, cy: float, radius: float, amp: float,
              lobes: int, phase: float) -> Array:
    """Signed distance-like function of a star-shaped blob ``r(phi) = R (1 + amp cos(n phi))``."""
    dx, dy = xs - cx, ys - cy
    rho = np.sqrt(dx * dx + dy * dy) + 1e-9
    phi = np.arctan2(dy, dx)
    ang = lobes * (phi - phase)
    r = radius * (1.0 + amp * np.cos(ang))
    dr = -radius * amp * lobes * np.sin(ang)
    # the gradient correction matters near the boundary only; keep it finite at the centre
    rho_c = np.maximum(rho, radius * (1.0 - abs(amp)))
    return (rho - r) / np.sqrt(1.0 + (dr / rho_c) ** 2)


def _coverage(sdf: Array, size: int) -> Array:
    """Antialiased coverage in ``[0, 1]`` of a shape given its normalised sdf."""
    return np.clip(0.5 - sdf * size, 0.0, 1.0)


def _hsv(h: float, s: float, v: float) -> Array:
    """RGB (0-255 floats) of an HSV colour with components in ``[0, 1]``."""
    return np.array(colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0),
                                        min(max(v, 0.0), 1.0)), np.float32) * 255.0


def _to_uint8(img: Array) -> Array:
    return np.clip(img + 0.5, 0.0, 255.0).astype(np.uint8)


def _channels_last(img: Array) -> Array:
    """uint8 ``H x W x 3`` of a float ``3 x H x W`` image."""
    return np.ascontiguousarray(_to_uint8(img).transpose(1, 2, 0))


def _col(rgb: Union[Sequence[float], Array]) -> Array:
    """A colour as a ``3 x 1 x 1`` float32 array, to broadcast over ``3 x H x W`` images."""
    return np.asarray(rgb, np.float32).reshape(3, 1, 1)


def _mod(x: Array, m: float) -> Array:
    """``x mod m`` for floats (as ``%``, but several times faster in NumPy)."""
    return x - m * np.floor(x / m)


# --------------------------------------------------------------------------
# the common interface
# --------------------------------------------------------------------------
class SyntheticWorld:
    """Base class of the synthetic worlds: a deterministic, endless source of samples.

    Every world can be viewed both ways:

    * paired: :meth:`sample` returns the ``(A, B)`` images of one scene (for
      the unpaired stripes world, ``B`` is the oracle);
    * unpaired: :meth:`sample_a` draws an A image, :meth:`sample_b` a B image
      of an *independent* scene (domain ``"B"``), and :meth:`oracle` the B
      image of the scene of ``sample_a`` (the answer a perfect A->B translator
      would give).

    Parameters
    ----------
    size:
        side of the square images, a multiple of 4, at least 16.
    seed:
        world seed; with ``(split, domain, index)`` it fixes every sample.
    """

    #: the task name used by :func:`get_world` and the dataset classes
    name: ClassVar[str] = ""
    #: True for paired (pix2pix-style) tasks, False for unpaired ones
    aligned: ClassVar[bool] = True

    def __init__(self, size: int = 64, seed: int = 0) -> None:
        self.size = check_size(size)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self.seed = int(seed)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, seed={self.seed})"

    def rng(self, index: int, split: str = "train", domain: Union[str, int] = "A"
            ) -> np.random.Generator:
        """The generator a sample's scene is drawn from: ``default_rng([seed, split, domain, index])``."""
        return np.random.default_rng(
            [self.seed, _split_id(split), _domain_id(domain), _check_index(index)])

    def scene(self, index: int, split: str = "train", domain: Union[str, int] = "A") -> Scene:
        """The parameters (normalised coordinates) of one scene."""
        return self._draw_scene(self.rng(index, split, domain))

    def render_pair(self, scene: Scene) -> Tuple[Array, Array]:
        """The ``(A, B)`` uint8 images of a scene."""
        raise NotImplementedError

    def sample(self, index: int, split: str = "train") -> Tuple[Array, Array]:
        """A paired sample ``(A, B)`` (uint8, ``H x W x 3``) of scene ``index``."""
        return self.render_pair(self.scene(index, split, "A"))

    def sample_a(self, index: int, split: str = "train") -> Array:
        """The A image of scene ``index`` of domain A."""
        return self.render_pair(self.scene(index, split, "A"))[0]

    def sample_b(self, index: int, split: str = "train") -> Array:
        """The B image of scene ``index`` of domain B (independent of the A scenes)."""
        return self.render_pair(self.scene(index, split, "B"))[1]

    def oracle(self, index: int, split: str = "train") -> Array:
        """The B image of exactly the scene of :meth:`sample_a` ``(index, split)``."""
        return self.render_pair(self.scene(index, split, "A"))[1]

    # subclasses draw their scenes here
    def _draw_scene(self, rng: np.random.Generator) -> Scene:
        raise NotImplementedError


# --------------------------------------------------------------------------
# a) stripes: plain animals <-> striped animals (like horse <-> zebra)
# --------------------------------------------------------------------------
#: coat colours of the plain animals (RGB): brown, tan, chestnut, bay, dun
_COATS = np.array([[125, 80, 45], [185, 145, 100], [150, 75, 40],
                   [110, 65, 38], [195, 165, 120]], np.float32)
_ZEBRA_WHITE = np.array([240, 237, 230], np.float32)
_ZEBRA_BLACK = np.array([24, 22, 22], np.float32)
#: stripe period as a fraction of the body length (the same on every part)
STRIPE_PERIOD = 0.2
#: how much body stripes bend backwards away from the body's mid line
STRIPE_BEND = 0.06


class StripesWorld(SyntheticWorld):
    """Unpaired plain <-> striped animals on grass, shaped like horse -> zebra.

    A scene holds one (sometimes two) four-legged animals (body, neck, head,
    ear, legs, tail) standing on textured grass, under a sky with clouds and
    sometimes a band of trees.  Domain A draws the animals in a plain
    brown/tan coat with soft shading; domain B draws independent scenes whose
    animals are striped.

    The stripes are a deterministic function of the animal's geometry:
    perpendicular to each part's axis (body, neck, head, legs, tail), period
    ``STRIPE_PERIOD`` times the body length, phase anchored at the body centre
    (parts: at their joint), bent slightly away from the body's mid line, and
    multiplied by the same shading as the plain coat.  So A -> B is a
    well-defined function of the A image and :meth:`oracle` is its one true
    answer; background pixels of ``oracle(i)`` equal those of ``sample_a(i)``.
    """

    name = "stripes"
    aligned = False

    # ---- scenes -----------------------------------------------------------
    def _draw_scene(self, rng: np.random.Generator) -> Scene:
        horizon = float(rng.uniform(0.28, 0.45))
        sky_h, sky_s, sky_v = rng.uniform(0.55, 0.62), rng.uniform(0.35, 0.6), rng.uniform(0.75, 0.95)
        grass_h, grass_s, grass_v = rng.uniform(0.17, 0.3), rng.uniform(0.4, 0.7), rng.uniform(0.4, 0.62)
        scene: Scene = {
            "horizon": horizon,
            "sky_top": _hsv(sky_h, sky_s, sky_v),
            "sky_bottom": _hsv(sky_h, sky_s * 0.35, min(1.0, sky_v + 0.08)),
            "clouds": rng.random((10, 5)).astype(np.float32),
            "cloud_amount": float(rng.uniform(0.0, 0.6)),
            "trees": bool(rng.random() < 0.5),
            "tree_height": float(rng.uniform(0.05, 0.14)),
            "tree_edge": rng.random((1, 11)).astype(np.float32),
            "tree_colour": _hsv(rng.uniform(0.22, 0.36), rng.uniform(0.4, 0.7), rng.uniform(0.2, 0.38)),
            "tree_noise": rng.random((5, 14)).astype(np.float32),
            "grass": _hsv(grass_h, grass_s, grass_v),
            "grass_coarse": rng.random((2, 6, 6)).astype(np.float32),
            "grass_fine": rng.random((22, 22)).astype(np.float32),
            "noise_seed": int(rng.integers(2 ** 31)),
        }
        n = 1 if rng.random() < 0.7 else 2
        animals = [self._draw_animal(rng, horizon, n, k) for k in range(n)]
        animals.sort(key=lambda a: a["feet"])  # far (higher up) ones first
        scene["animals"] = animals
        return scene

    @staticmethod
    def _draw_animal(rng: np.random.Generator, horizon: float, n: int, k: int) -> Dict[str, Any]:
        length = float(rng.uniform(0.36, 0.5) if n == 1 else rng.uniform(0.28, 0.36))
        hb = float(rng.uniform(0.19, 0.24))        # body semi-height / length
        leg = float(rng.uniform(0.38, 0.46))       # leg length / length
        if n == 1:
            cx = rng.uniform(0.32, 0.68)
        else:
            cx = rng.uniform(0.18, 0.36) if k == 0 else rng.uniform(0.64, 0.82)
        total = (leg + 2 * hb + 0.32) * length  # feet to ear tip
        lo = max(horizon + 0.2, 0.03 + total)
        feet = float(rng.uniform(min(lo, 0.97), 0.97))
        coat = _COATS[int(rng.integers(len(_COATS)))] * rng.uniform(0.93, 1.07, 3).astype(np.float32)
        return {
            "cx": float(cx),
            "feet": feet,
            "length": length,
            "hb": hb,
            "leg": leg,
            "facing": 1 if rng.random() < 0.5 else -1,
            "theta": float(rng.uniform(-0.08, 0.08)),
            "head_angle": float(rng.uniform(0.6, 1.05)),
            "swing": rng.uniform(-0.06, 0.06, 4).astype(np.float32),
            "coat": coat,
            "coat_noise": rng.random((5, 5)).astype(np.float32),
        }

    @staticmethod
    def _parts(an: Dict[str, Any]) -> List[Dict[str, Any]]:
        """The animal's primitives in image coordinates, back to front.

        Each part: ``kind`` (ellipse or capsule), its geometry, and ``shade``
        (far legs are darker).  All derived from the scene, so the A and the
        oracle renderings share them exactly.
        """
        length, hb, leg, f, th = an["length"], an["hb"], an["leg"], an["facing"], an["theta"]
        cx = an["cx"]
        cy = an["feet"] - (leg + hb) * length
        c, s = math.cos(th), math.sin(th)

        def world(u: float, v: float) -> Tuple[float, float]:
            uu, vv = f * u * length, v * length
            return cx + uu * c - vv * s, cy + uu * s + vv * c

        def capsule(p: Tuple[float, float], q: Tuple[float, float], r: float,
                    shade: float = 1.0) -> Dict[str, Any]:
            return {"kind": "capsule", "p": world(*p), "q": world(*q), "r": r * length,
                    "shade": shade}

        sw = an["swing"]
        legs_x = (0.33, 0.24, -0.3, -0.39)
        far = {1, 3}
        leg_parts = [capsule((x, 0.4 * hb), (x + float(sw[i]), hb + leg), 0.045,
                             0.82 if i in far else 1.0) for i, x in enumerate(legs_x)]
        neck_top = (0.5, -hb - 0.2)
        phi = an["head_angle"]
        hx, hy = neck_top[0] + 0.1 * math.cos(phi), neck_top[1] + 0.1 * math.sin(phi)
        head_dir = (f * math.cos(phi), math.sin(phi))
        head_theta = math.atan2(head_dir[0] * s + head_dir[1] * c, head_dir[0] * c - head_dir[1] * s)
        hcx, hcy = world(hx, hy)
        return [
            leg_parts[1], leg_parts[3],
            capsule((-0.48, -0.5 * hb), (-0.6, hb + 0.1), 0.025, 0.9),
            {"kind": "body", "c": (cx, cy), "a": 0.5 * length, "b": hb * length, "theta": th,
             "facing": f, "shade": 1.0},
            leg_parts[0], leg_parts[2],
            capsule((0.36, -0.2 * hb), neck_top, 0.075),
            {"kind": "ellipse", "c": (hcx, hcy), "a": 0.15 * length, "b": 0.07 * length,
             "theta": head_theta, "shade": 1.0},
            capsule((neck_top[0] - 0.02, neck_top[1] - 0.02),
                    (neck_top[0] - 0.05, neck_top[1] - 0.1), 0.02),
        ]

    # ---- rendering --------------------------------------------------------
    # Images are painted channel-first (3 x H x W), where NumPy broadcasts a
    # per-pixel factor over the colours much faster than channel-last.
    def _background(self, scene: Scene) -> Array:
        """Sky, grass, trees and shadows: float ``3 x H x W``, the same in A and B renderings."""
        size = self.size
        ys, xs = _coords(size)
        hz = scene["horizon"]
        # sky: vertical gradient with soft clouds
        t = np.clip(ys / hz, 0.0, 1.0)
        sky = _col(scene["sky_top"]) * (1 - t) + _col(scene["sky_bottom"]) * t
        cloud = np.clip((smooth_noise(scene["clouds"], size) - (1 - scene["cloud_amount"])) * 3.0,
                        0.0, 0.75)
        sky = sky * (1 - cloud) + 245.0 * cloud
        # grass: nearer is brighter, two octaves of value noise plus grain
        g = np.clip((ys - hz) / (1 - hz), 0.0, 1.0)
        coarse = smooth_noise(scene["grass_coarse"], size)
        fine = smooth_noise(scene["grass_fine"], size)
        grain = _grain(scene["noise_seed"], size)
        lum = 0.8 + 0.3 * g + 0.3 * (coarse[0] - 0.5) + 0.16 * (fine - 0.5) + 0.035 * grain
        # shadows under the animals (part of the background: the same in A and B)
        for an in scene["animals"]:
            d, _, _ = _ellipse_sdf(xs, ys, an["cx"], an["feet"], 0.55 * an["length"],
                                   0.06 * an["length"])
            lum = lum * (1 - 0.35 * np.clip(-d / (0.06 * an["length"]), 0.0, 1.0))
        grass = _col(scene["grass"]) * lum
        yellow = 0.12 * (coarse[1] - 0.5)
        grass[0] *= 1 + yellow
        grass[2] *= 1 - yellow
        img = np.where(ys > hz, grass, sky)
        if scene["trees"]:
            edge = hz - scene["tree_height"] * (0.55 + 0.45 * smooth_noise(scene["tree_edge"], 1, size))
            band = (ys > edge) & (ys <= hz)
            foliage = _col(scene["tree_colour"]) * (
                0.65 + 0.7 * smooth_noise(scene["tree_noise"], size) + 0.05 * grain)
            img = np.where(band, foliage, img)
        return img.astype(np.float32, copy=False)

    def _draw_animal_into(self, img: Array, mask: Array, an: Dict[str, Any],
                          striped: bool) -> None:
        size = self.size
        parts = self._parts(an)
        # bounding box of all parts
        x0 = y0 = 1e9
        x1 = y1 = -1e9
        for p in parts:
            if p["kind"] == "capsule":
                (ax, ay), (bx, by), r = p["p"], p["q"], p["r"]
                x0, x1 = min(x0, ax - r, bx - r), max(x1, ax + r, bx + r)
                y0, y1 = min(y0, ay - r, by - r), max(y1, ay + r, by + r)
            else:
                (cx, cy), r = p["c"], max(p["a"], p["b"])
                x0, x1, y0, y1 = min(x0, cx - r), max(x1, cx + r), min(y0, cy - r), max(y1, cy + r)
        win = _window(size, x0, x1, y0, y1)
        if win is None:
            return
        (rs, cs), ys, xs = win
        length = an["length"]
        sdfs, along = [], []
        for p in parts:
            if p["kind"] == "capsule":
                (ax, ay), (bx, by) = p["p"], p["q"]
                d, t = _capsule_sdf(xs, ys, ax, ay, bx, by, p["r"])
            elif p["kind"] == "body":
                d, u, v = _ellipse_sdf(xs, ys, *p["c"], p["a"], p["b"], p["theta"])
                # stripes across the body axis, bent back away from its mid line
                t = p["facing"] * u - STRIPE_BEND * length * (v / p["b"]) ** 2
            else:
                d, t, _ = _ellipse_sdf(xs, ys, *p["c"], p["a"], p["b"], p["theta"])
            sdfs.append(np.broadcast_to(d, (ys.shape[0], xs.shape[1])))
            along.append(np.broadcast_to(t, (ys.shape[0], xs.shape[1])))
        stack = np.stack(sdfs)
        owner = stack.argmin(axis=0)          # which part a pixel belongs to
        d = np.take_along_axis(stack, owner[None], 0)[0]
        alpha = _coverage(d, size)
        inside = alpha > 0
        if not inside.any():
            return
        # soft shading: light from above, darker rim, a little coat noise, darker far legs
        top = an["feet"] - (an["leg"] + 2 * an["hb"] + 0.3) * length
        vert = np.clip((ys - top) / (an["feet"] - top), 0.0, 1.0)
        rim = np.clip(-d / (0.05 * length), 0.0, 1.0)
        noise = smooth_noise(an["coat_noise"], size)[rs, cs]
        part_shade = np.array([p["shade"] for p in parts], np.float32)[owner]
        shade = (1.06 - 0.28 * vert) * (0.86 + 0.14 * rim) * (0.96 + 0.08 * noise) * part_shade
        if striped:
            t = np.take_along_axis(np.stack(along), owner[None], 0)[0]
            period = STRIPE_PERIOD * length
            px = period * size
            black = np.clip(0.5 + np.cos(2 * np.pi * t / period) * px / (2 * np.pi), 0.0, 1.0)
            colour = _col(_ZEBRA_WHITE) + _col(_ZEBRA_BLACK - _ZEBRA_WHITE) * black
        else:
            colour = _col(an["coat"])
        img[:, rs, cs] = img[:, rs, cs] * (1 - alpha) + colour * (shade * alpha)
        mask[rs, cs] |= inside

    def _render(self, scene: Scene, striped: bool) -> Tuple[Array, Array]:
        bg = self._background(scene)
        img = bg.copy()
        mask = np.zeros((self.size, self.size), bool)
        for an in scene["animals"]:
            self._draw_animal_into(img, mask, an, striped)
        np.copyto(img, bg, where=~mask)  # background pixels exactly as in every rendering
        return _channels_last(img), mask

    def render(self, scene: Scene, striped: bool) -> Array:
        """Render a scene with plain (A) or striped (B) animals, uint8 ``H x W x 3``."""
        return self._render(scene, striped)[0]

    def render_pair(self, scene: Scene) -> Tuple[Array, Array]:
        return self.render(scene, False), self.render(scene, True)

    def sample_a(self, index: int, split: str = "train") -> Array:
        return self.render(self.scene(index, split, "A"), False)

    def sample_b(self, index: int, split: str = "train") -> Array:
        return self.render(self.scene(index, split, "B"), True)

    def oracle(self, index: int, split: str = "train") -> Array:
        """The striped rendering of exactly the scene of ``sample_a(index, split)``."""
        return self.render(self.scene(index, split, "A"), True)

    def animal_mask(self, index: int, split: str = "train", domain: Union[str, int] = "A") -> Array:
        """Bool ``H x W`` mask of the animal pixels (any coverage) of a scene."""
        return self._render(self.scene(index, split, domain), False)[1]


# --------------------------------------------------------------------------
# b) edges2shapes: edge map -> shaded object (like edges -> shoes)
# --------------------------------------------------------------------------
SHAPE_KINDS = ("ellipse", "rounded_rect", "triangle", "star", "shoe")
#: each kind of object has its own hue family (as shoes tend to be brown or
#: black and handbags red), so colour is mostly predictable from the outline
KIND_HUES = {"ellipse": 0.0, "rounded_rect": 0.6, "triangle": 0.33, "star": 0.13, "shoe": 0.8}


class Edges2ShapesWorld(SyntheticWorld):
    """Paired edge maps (A) and shaded objects (B), shaped like edges -> shoes.

    B is one object on a white background: an ellipse, a rounded rectangle, a
    triangle, a star-like blob or a shoe-like union of parts, in a saturated
    colour of its kind's hue family (:data:`KIND_HUES`, jittered) with a
    complementary second colour for an inner part or the sole, Lambertian
    shading of a pillow-like relief lit from the upper left (jittered), and
    sometimes a specular highlight.  Colour and light are thus mostly
    predictable from the edges, as a product photo's are from its sketch.  A is its edge map: black lines on
    white along the silhouette and the visible boundaries between parts, about
    1.5 px wide at 64 px (the width scales with the image size).
    """

    name = "edges2shapes"
    aligned = True

    def _draw_scene(self, rng: np.random.Generator) -> Scene:
        kind = SHAPE_KINDS[int(rng.integers(len(SHAPE_KINDS)))]
        hue = KIND_HUES[kind] + float(rng.uniform(-0.04, 0.04))
        scene: Scene = {
            "kind": kind,
            "cx": float(0.5 + rng.uniform(-0.05, 0.05)),
            "cy": float(0.5 + rng.uniform(-0.05, 0.05)),
            "scale": float(rng.uniform(0.28, 0.36)),
            "theta": float(rng.uniform(-math.pi, math.pi)),
            "tilt": float(rng.uniform(-0.15, 0.15)),
            "facing": 1 if rng.random() < 0.5 else -1,
            "aspect": float(rng.uniform(0.55, 0.9)),
            "inner": bool(rng.random() < 0.75),
            "inner_scale": float(rng.uniform(0.35, 0.55)),
            "inner_offset": rng.uniform(-0.15, 0.15, 2).astype(np.float32),
            "lobes": int(rng.integers(4, 7)),
            "lobe_amp": float(rng.uniform(0.2, 0.35)),
            "colours": np.stack([
                _hsv(hue, rng.uniform(0.6, 0.95), rng.uniform(0.7, 0.95)),
                _hsv(hue + 0.5 + rng.uniform(-0.05, 0.05), rng.uniform(0.5, 0.9), rng.uniform(0.55, 0.95)),
                _hsv(hue, 0.5, 0.22),
            ]),
            "light_azimuth": float(1.25 * math.pi + rng.uniform(-0.5, 0.5)),
            "light_tilt": float(rng.uniform(0.5, 1.0)),
            "highlight": bool(rng.random() < 0.6),
        }
        return scene

    @staticmethod
    def _part_sdfs(scene: Scene, xs: Array, ys: Array) -> Tuple[List[Array], List[int]]:
        """Signed distances of the object's parts, in painting order, and their colour ids."""
        cx, cy, s, th = scene["cx"], scene["cy"], scene["scale"], scene["theta"]
        kind = scene["kind"]
        ox, oy = (float(v) * s for v in scene["inner_offset"])
        ir = scene["inner_scale"] * s
        if kind == "shoe":
            f, tl = scene["facing"], scene["tilt"]
            c, sn = math.cos(tl), math.sin(tl)
            s = 1.1 * s

            def pt(u: float, v: float) -> Tuple[float, float]:
                uu, vv = f * u * s, v * s
                return cx + uu * c - vv * sn, cy + uu * sn + vv * c

            parts = [
                (_box_sdf(xs, ys, *pt(-0.55, -0.1), 0.42 * s, 0.45 * s, 0.25 * s, tl), 0),  # quarter
                (_ellipse_sdf(xs, ys, *pt(0.25, 0.15), 0.8 * s, 0.3 * s, tl - f * 0.15)[0], 0),  # vamp
                (_ellipse_sdf(xs, ys, *pt(0.75, 0.22), 0.32 * s, 0.2 * s, tl)[0], 0),      # toe cap
                (_capsule_sdf(xs, ys, *pt(-0.15, -0.12), *pt(0.3, 0.04), 0.09 * s)[0], 1),  # laces
                (_box_sdf(xs, ys, *pt(-0.78, 0.3), 0.22 * s, 0.12 * s, 0.04 * s, tl), 1),   # heel
                (_box_sdf(xs, ys, *pt(0.02, 0.42), 1.05 * s, 0.09 * s, 0.08 * s, tl), 1),   # sole
                (_ellipse_sdf(xs, ys, *pt(-0.5, -0.5), 0.3 * s, 0.08 * s, tl)[0], 2),       # opening
            ]
        else:
            if kind == "ellipse":
                outer = _ellipse_sdf(xs, ys, cx, cy, s, s * scene["aspect"], th)[0]
                inner = _ellipse_sdf(xs, ys, cx + ox, cy + oy, ir, ir * scene["aspect"], th)[0]
            elif kind == "rounded_rect":
                outer = _box_sdf(xs, ys, cx, cy, s, s * scene["aspect"], 0.25 * s, th)
                inner = _box_sdf(xs, ys, cx + ox * 0.5, cy + oy * 0.5, ir, ir * scene["aspect"],
                                 0.15 * s, th)
            elif kind == "triangle":
                pts = [(cx + 1.15 * s * math.cos(th + k * 2 * math.pi / 3),
                        cy + 1.15 * s * math.sin(th + k * 2 * math.pi / 3)) for k in range(3)]
                outer = _polygon_sdf(xs, ys, pts)
                inner = _ellipse_sdf(xs, ys, cx, cy, 0.7 * ir, 0.7 * ir)[0]
            else:  # star-like blob
                outer = _blob_sdf(xs, ys, cx, cy, 0.85 * s, scene["lobe_amp"], scene["lobes"], th)
                inner = _ellipse_sdf(xs, ys, cx, cy, 0.6 * ir, 0.6 * ir)[0]
            parts = [(outer, 0)]
            if scene["inner"]:
                parts.append((inner, 1))
        return [p[0] for p in parts], [p[1] for p in parts]

    def render_pair(self, scene: Scene) -> Tuple[Array, Array]:
        size = self.size
        ys, xs = _coords(size)
        sdfs, colour_ids = self._part_sdfs(scene, xs, ys)
        full = (size, size)
        sdfs = [np.broadcast_to(d, full) for d in sdfs]
        union = sdfs[0]
        for d in sdfs[1:]:
            union = np.minimum(union, d)
        # ---- A: silhouette and visible part boundaries ---------------------
        half = max(1.0, 1.5 * size / 64) / 2
        ink = np.clip(half + 0.5 - np.abs(union * size), 0.0, 1.0)
        inside = union * size < half
        for k, d in enumerate(sdfs):
            visible = inside.copy()
            for later in sdfs[k + 1:]:
                visible &= later > 0
            ink = np.maximum(ink, np.clip(half + 0.5 - np.abs(d * size), 0.0, 1.0) * visible)
        a_img = np.repeat(_to_uint8(255.0 * (1.0 - ink))[..., None], 3, axis=2)
        # ---- B: shaded object on white -----------------------------------
        part = np.zeros(full, np.int64)
        for d, cid in zip(sdfs, colour_ids):
            part[d < 0] = cid
        colour = scene["colours"][part]
        r0 = 0.22 * scene["scale"]
        depth = np.clip(-union / r0, 0.0, 1.0)
        height = r0 * np.sqrt(1.0 - (1.0 - depth) ** 2)
        gy, gx = np.gradient(height)
        gx, gy = gx * size, gy * size
        norm = np.sqrt(gx * gx + gy * gy + 1.0)
        az, tilt = scene["light_azimuth"], scene["light_tilt"]
        lx, ly, lz = math.cos(az) * math.sin(tilt), math.sin(az) * math.sin(tilt), math.cos(tilt)
        ndotl = (-gx * lx - gy * ly + lz) / norm
        shade = 0.3 + 0.75 * np.clip(ndotl, 0.0, 1.0)
        obj = colour * shade[..., None]
        if scene["highlight"]:
            hx, hy, hz = lx, ly, lz + 1.0
            hn = math.sqrt(hx * hx + hy * hy + hz * hz)
            spec = np.clip((-gx * hx - gy * hy + hz) / (norm * hn), 0.0, 1.0) ** 40
            obj = obj + 200.0 * spec[..., None]
        alpha = _coverage(union, size)[..., None]
        b_img = _to_uint8(255.0 * (1 - alpha) + obj * alpha)
        return a_img, b_img

    def object_mask(self, index: int, split: str = "train") -> Array:
        """Bool ``H x W`` mask of the object's pixels (any coverage) in sample ``index``."""
        ys, xs = _coords(self.size)
        sdfs, _ = self._part_sdfs(self.scene(index, split, "A"), xs, ys)
        union = sdfs[0]
        for d in sdfs[1:]:
            union = np.minimum(union, d)
        return np.broadcast_to(_coverage(union, self.size) > 0, (self.size, self.size)).copy()


# --------------------------------------------------------------------------
# c) labels2scene: label map -> street photo (like Cityscapes labels -> photo)
# --------------------------------------------------------------------------
class Labels2SceneWorld(SyntheticWorld):
    """Paired street label maps (A) and textured scenes (B), shaped like Cityscapes.

    The layout: sky above a horizon, a road narrowing towards a vanishing
    point, sidewalks beside it, rows of buildings whose bases and roofs follow
    the perspective, trees on the sidewalks, a few cars on the road and
    sometimes pedestrians.  A is the label map coloured with Cityscapes'
    palette (:attr:`PALETTE`), B paints each class with its own texture:
    clouds, asphalt with lane dashes, paving, facades with windows, foliage,
    coloured cars with glass and wheels, clothed people.  :meth:`labels` gives
    the class ids themselves.
    """

    name = "labels2scene"
    aligned = True

    #: class names, in class-id order
    CLASS_NAMES: ClassVar[Tuple[str, ...]] = (
        "road", "sidewalk", "building", "tree", "sky", "person", "car")
    #: Cityscapes colours of the classes, ``uint8`` array ``K x 3``
    PALETTE: ClassVar[Array] = np.array(
        [[128, 64, 128], [244, 35, 232], [70, 70, 70], [107, 142, 35],
         [70, 130, 180], [220, 20, 60], [0, 0, 142]], np.uint8)
    n_classes: ClassVar[int] = len(CLASS_NAMES)
    ROAD, SIDEWALK, BUILDING, TREE, SKY, PERSON, CAR = range(7)

    _FACADES = np.array([[200, 185, 160], [150, 82, 62], [128, 128, 134], [222, 210, 180],
                         [110, 120, 140], [175, 150, 120]], np.float32)
    _CAR_COLOURS = np.array([[180, 25, 25], [25, 60, 160], [230, 230, 230], [30, 30, 32],
                             [160, 165, 170], [30, 110, 60], [220, 180, 40]], np.float32)

    # ---- scenes -----------------------------------------------------------
    def _draw_scene(self, rng: np.random.Generator) -> Scene:
        hz = float(rng.uniform(0.38, 0.5))
        vx = float(rng.uniform(0.4, 0.6))
        scene: Scene = {
            "horizon": hz,
            "vanish": vx,
            "road_left": float(rng.uniform(-0.25, 0.12)),
            "road_right": float(rng.uniform(0.88, 1.25)),
            "sky_top": _hsv(rng.uniform(0.56, 0.62), rng.uniform(0.4, 0.65), rng.uniform(0.7, 0.92)),
            "clouds": rng.random((10, 5)).astype(np.float32),
            "cloud_amount": float(rng.uniform(0.1, 0.6)),
            "asphalt": float(rng.uniform(70, 100)),
            "paving": _hsv(rng.uniform(0.05, 0.12), rng.uniform(0.05, 0.2), rng.uniform(0.6, 0.78)),
            "ground_noise": rng.random((8, 8)).astype(np.float32),
            "noise_seed": int(rng.integers(2 ** 31)),
        }
        buildings = []
        scene["wall_slope"] = {}
        # one block of uniform numbers per side (more than any row of buildings
        # needs) keeps the draws cheap and the scene independent of the size
        blocks = rng.random((2, 48, 10))
        for side, block in zip((-1, 1), blocks):
            slope = float(rng.uniform(0.12, 0.3))   # how fast the building line drops
            scene["wall_slope"][side] = slope
            x = 0.0 if side < 0 else 1.0
            for r in block:
                if (x - vx) * side <= 0.04:
                    break
                w = (0.06 + 0.16 * float(r[0])) * max(abs(x - vx), 0.15) / 0.5
                x_near, x_far = x, x - side * w
                if (x_far - vx) * side < 0.02:
                    x_far = vx + side * 0.02
                if r[1] > 0.12:  # else a gap between buildings
                    buildings.append({
                        "x0": min(x_near, x_far), "x1": max(x_near, x_far), "side": side,
                        "slope": slope, "roof": 0.5 + float(r[2]),
                        "colour": self._FACADES[int(r[3] * len(self._FACADES))]
                        * (0.9 + 0.2 * r[4:7]).astype(np.float32),
                        "windows": (4.0 + 5.0 * float(r[7]), 3.0 + 3.0 * float(r[8])),
                        "lit": float(r[9]),
                    })
                x = x_far
        scene["buildings"] = buildings
        objects: List[Dict[str, Any]] = []
        n_trees = int(rng.integers(0, 4)) if rng.random() < 0.85 else 0
        for _ in range(n_trees):
            objects.append({
                "kind": "tree", **self._sidewalk_spot(scene, rng, (0.1, 0.75), (0.3, 0.7)),
                "scale": float(rng.uniform(0.8, 1.2)), "lobes": rng.uniform(-1, 1, (3, 2)).astype(np.float32),
                "colour": _hsv(rng.uniform(0.2, 0.33), rng.uniform(0.5, 0.8), rng.uniform(0.3, 0.5)),
                "noise": rng.random((10, 10)).astype(np.float32),
            })
        n_cars = int(rng.integers(1, 4)) if rng.random() < 0.88 else 0
        for _ in range(n_cars):
            objects.append({
                "kind": "car", "ground": float(hz + rng.uniform(0.07, 0.52)),
                "along": float(rng.uniform(0.15, 0.85)), "scale": float(rng.uniform(0.9, 1.15)),
                "colour": self._CAR_COLOURS[int(rng.integers(len(self._CAR_COLOURS)))]
                * rng.uniform(0.9, 1.1, 3).astype(np.float32),
                "aspect": float(rng.uniform(0.5, 0.65)),
            })
        n_people = int(rng.integers(1, 3)) if rng.random() < 0.65 else 0
        for _ in range(n_people):
            objects.append({
                "kind": "person", **self._sidewalk_spot(scene, rng, (0.15, 1.0), (0.1, 0.7)),
                "scale": float(rng.uniform(0.85, 1.15)),
                "shirt": _hsv(rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.9)),
                "skin": _hsv(rng.uniform(0.03, 0.1), rng.uniform(0.3, 0.6), rng.uniform(0.45, 0.95)),
            })
        objects.sort(key=lambda o: o["ground"])  # far first
        scene["objects"] = objects
        return scene

    # ---- geometry helpers ---------------------------------------------------
    def _road_edges(self, scene: Scene, y: Union[float, Array]) -> Tuple[Any, Any]:
        hz, vx = scene["horizon"], scene["vanish"]
        t = (y - hz) / (1.0 - hz)
        return vx + t * (scene["road_left"] - vx), vx + t * (scene["road_right"] - vx)

    def _sidewalk_spot(self, scene: Scene, rng: np.random.Generator,
                       depth: Tuple[float, float], along: Tuple[float, float]) -> Dict[str, Any]:
        """Draw a visible spot on a sidewalk: ``side``, ground height ``ground`` and ``x``.

        ``depth`` picks the height between the horizon and the lowest row where
        that side's kerb is still inside the image; ``along`` the position
        between the kerb and the wall (or the image border).
        """
        side = -1 if rng.random() < 0.5 else 1
        u = float(rng.uniform(*depth))
        a = float(rng.uniform(*along))
        hz, vx = scene["horizon"], scene["vanish"]
        if side < 0:
            t_max = (vx - 0.03) / (vx - scene["road_left"])
        else:
            t_max = (0.97 - vx) / (scene["road_right"] - vx)
        y = hz + u * min(1.0, t_max) * (1.0 - hz)
        left, right = self._road_edges(scene, y)
        kerb = left if side < 0 else right
        wall = min(max(vx + side * (y - hz) / scene["wall_slope"][side], 0.0), 1.0)
        return {"side": side, "ground": float(y), "x": float(kerb + a * (wall - kerb))}

    # ---- rendering ----------------------------------------------------------
    # The image is painted channel-first (3 x H x W), where NumPy broadcasts a
    # per-pixel mask or factor over the colours much faster than channel-last.
    def _paint(self, scene: Scene) -> Tuple[Array, Array]:
        """Label map (int64 ``H x W``) and textured image (float ``3 x H x W``) of a scene."""
        size = self.size
        ys, xs = _coords(size)
        hz, vx = scene["horizon"], scene["vanish"]
        grain = _grain(scene["noise_seed"], size)
        noise = smooth_noise(scene["ground_noise"], size)
        # sky above the horizon, paving below it, the road narrowing to the vanishing point
        t = np.clip(ys / hz, 0.0, 1.0)
        sky = _col(scene["sky_top"]) * (1 - t) + _col([225, 232, 240]) * t        # (3, H, 1)
        cloud = np.clip((smooth_noise(scene["clouds"], size) - (1 - scene["cloud_amount"])) * 3,
                        0.0, 0.8)
        sky = sky * (1 - cloud) + 240.0 * cloud
        ground = ys > hz                                                        # (H, 1)
        depth = np.maximum(ys - hz, 1e-3)
        tiles = _mod(np.floor(0.25 / depth), 2.0) * (ys > hz + 0.05)
        paving = _col(scene["paving"]) * (0.92 + 0.16 * noise + 0.06 * tiles + 0.03 * grain)
        left, right = self._road_edges(scene, ys)
        road = ground & (xs > left) & (xs < right)
        asphalt = scene["asphalt"] * (0.9 + 0.2 * noise + 0.05 * grain)
        mid = 0.5 * (left + right)
        dash = (_mod(np.floor(0.6 / depth), 2.0) == 0) & (ys > hz + 0.06) \
            & (np.abs(xs - mid) < 0.012 * (ys - hz) / (1 - hz) + 0.2 / size)
        road_col = np.where(dash, np.float32(225.0), asphalt)
        labels = np.where(road, self.ROAD, np.where(ground, self.SIDEWALK, self.SKY)).astype(np.int64)
        img = np.where(road, road_col, np.where(ground, paving, sky))
        # buildings along both sides, converging to the vanishing point.  Each
        # image column belongs to at most one building, so all of them are
        # drawn at once from per-column parameters.
        xc = xs[0]
        owner = np.full(size, -1, np.int64)
        for k, b in enumerate(scene["buildings"]):
            owner[(xc >= b["x0"]) & (xc < b["x1"])] = k
        if scene["buildings"]:
            params = np.array([[b["roof"], b["slope"], b["windows"][0], b["windows"][1], b["lit"]]
                               for b in scene["buildings"]], np.float32)
            colours = np.stack([b["colour"] for b in scene["buildings"]])
            has = owner >= 0
            p = params[np.maximum(owner, 0)]
            dist = np.abs(xs - vx)                                              # (1, W)
            roof, slope = p[:, 0][None], p[:, 1][None]
            m = has[None] & (ys > hz - roof * dist) & (ys < hz + slope * dist)
            labels[m] = self.BUILDING
            # windows on a perspective grid: columns in 1/dist, rows in height/dist
            inv = 1.0 / np.maximum(dist, 1e-3)
            hgt = (hz - ys) * inv
            u = inv * p[:, 2][None] * 0.1
            v = hgt * p[:, 3][None]
            fu, fv = np.floor(u), np.floor(v)
            window = (u - fu > 0.35) & (v - fv > 0.4) & (dist > 0.06) & (hgt > -0.55 * slope)
            # a few lit windows, picked by a hash of the window's grid cell
            lit = _mod(fu * 7.0 + fv * 3.0, 11.0) < 11.0 * 0.3 * p[:, 4][None]
            facade = colours[np.maximum(owner, 0)].T[:, None, :] \
                * (0.95 - 0.15 * np.clip(dist, 0, 0.5))                          # (3, 1, W)
            col = np.where(window, np.where(lit, _col([215, 205, 145]), _col([55, 65, 85])), facade)
            img = np.where(m, col * (0.96 + 0.04 * grain), img)
        # trees, people and cars, far to near
        for o in scene["objects"]:
            getattr(self, "_paint_" + o["kind"])(scene, o, labels, img, grain)
        return labels, img

    @staticmethod
    def _put(labels: Array, img: Array, win: Tuple[slice, slice], mask: Array, cls: int,
             colour: Array) -> None:
        """Paint class ``cls`` and ``colour`` (``3 x h x w`` or broadcastable) where ``mask``."""
        rs, cs = win
        np.copyto(labels[rs, cs], cls, where=mask)
        np.copyto(img[:, rs, cs], np.broadcast_to(colour, (3,) + mask.shape), where=mask)

    def _paint_tree(self, scene: Scene, o: Dict[str, Any], labels: Array, img: Array,
                    grain: Array) -> None:
        size = self.size
        hz = scene["horizon"]
        gy = o["ground"]
        x = o["x"]
        r = (0.55 * (gy - hz) + 0.02) * o["scale"]
        trunk_top = gy - 1.6 * r
        win = _window(size, x - 1.6 * r, x + 1.6 * r, trunk_top - 1.8 * r, gy)
        if win is None:
            return
        (rs, cs), wy, wx = win
        shape = (wy.shape[0], wx.shape[1])
        trunk = (np.abs(wx - x) < 0.12 * r) & (wy > trunk_top)
        crown_c = trunk_top - 0.7 * r
        crown = np.broadcast_to((wx - x) ** 2 + (wy - crown_c) ** 2 < r * r, shape)
        for lx, ly in o["lobes"]:
            cxl, cyl = x + 0.7 * r * float(lx), crown_c + 0.5 * r * float(ly)
            crown = crown | ((wx - cxl) ** 2 + (wy - cyl) ** 2 < (0.65 * r) ** 2)
        m = trunk | crown
        if not m.any():
            return
        light = (0.7 + 0.6 * smooth_noise(o["noise"], size)[rs, cs] + 0.08 * grain[rs, cs]) \
            * (1.1 - 0.35 * np.clip((wy - (crown_c - r)) / (2 * r), 0, 1))
        col = np.where(crown, _col(o["colour"]) * light, _col([90, 62, 40]))
        self._put(labels, img, (rs, cs), m, self.TREE, col)

    def _paint_person(self, scene: Scene, o: Dict[str, Any], labels: Array, img: Array,
                      grain: Array) -> None:
        size = self.size
        hz = scene["horizon"]
        gy = o["ground"]
        x = o["x"]
        h = 0.95 * (gy - hz) * o["scale"]
        w = 0.16 * h
        win = _window(size, x - w, x + w, gy - h, gy)
        if win is None:
            return
        (rs, cs), wy, wx = win
        body, _ = _capsule_sdf(wx, wy, x, gy - 0.72 * h, x, gy - 0.06 * h, 0.5 * w)
        head = (wx - x) ** 2 + (wy - (gy - 0.86 * h)) ** 2 < (0.12 * h) ** 2
        m = (body < 0) | head
        if not m.any():
            return
        legs = wy > gy - 0.42 * h
        col = np.where(head, _col(o["skin"]),
                       np.where(legs, _col([45, 45, 60]), _col(o["shirt"])))
        self._put(labels, img, (rs, cs), m, self.PERSON, col)

    def _paint_car(self, scene: Scene, o: Dict[str, Any], labels: Array, img: Array,
                   grain: Array) -> None:
        size = self.size
        gy = o["ground"]
        left, right = self._road_edges(scene, gy)
        w = 0.5 * (right - left) * 0.42 * o["scale"]        # half width
        x = float(left + w + o["along"] * max(right - left - 2 * w, 0.0))
        hbody = w * o["aspect"]
        win = _window(size, x - w, x + w, gy - 2.0 * hbody, gy)
        if win is None:
            return
        (rs, cs), wy, wx = win
        dx = np.abs(wx - x)
        body = _box_sdf(wx, wy, x, gy - 0.55 * hbody, w, 0.45 * hbody, 0.2 * hbody) < 0
        cabin = _box_sdf(wx, wy, x, gy - 1.35 * hbody, 0.75 * w, 0.45 * hbody, 0.3 * hbody) < 0
        wheels = (np.abs(dx - 0.72 * w) < 0.18 * w) & (np.abs(wy - (gy - 0.12 * hbody)) < 0.14 * hbody)
        m = body | cabin | wheels
        if not m.any():
            return
        glass = cabin & (dx < 0.62 * w) & (np.abs(wy - (gy - 1.3 * hbody)) < 0.32 * hbody)
        lights = body & (np.abs(dx - 0.78 * w) < 0.12 * w) \
            & (np.abs(wy - (gy - 0.7 * hbody)) < 0.1 * hbody)
        shade = 1.05 - 0.25 * np.clip((wy - (gy - 1.8 * hbody)) / (1.8 * hbody), 0, 1)
        col = np.where(wheels, _col([18, 18, 20]),
                       np.where(lights, _col([200, 30, 30]),
                                np.where(glass, _col([40, 52, 66]), _col(o["colour"]) * shade)))
        self._put(labels, img, (rs, cs), m, self.CAR, col)

    def render_labels(self, scene: Scene) -> Array:
        """Class ids (int64 ``H x W``) of a scene."""
        return self._paint(scene)[0]

    def render_pair(self, scene: Scene) -> Tuple[Array, Array]:
        labels, img = self._paint(scene)
        return self.PALETTE[labels], _channels_last(img)

    def labels(self, index: int, split: str = "train") -> Array:
        """Class ids (int64 ``H x W``) of sample ``index``: the labels behind ``sample(index)[0]``."""
        return self.render_labels(self.scene(index, split, "A"))

    def sample_with_labels(self, index: int, split: str = "train") -> Tuple[Array, Array, Array]:
        """``(A, B, labels)`` of sample ``index`` from one rendering."""
        labels, img = self._paint(self.scene(index, split, "A"))
        return self.PALETTE[labels], _channels_last(img), labels

    @classmethod
    def one_hot(cls, labels: Array) -> Array:
        """One-hot encoding ``float32 K x H x W`` of an ``H x W`` class-id map."""
        labels = np.asarray(labels)
        if labels.size and (labels.min() < 0 or labels.max() >= cls.n_classes):
            raise ValueError(
                f"class ids must lie in [0, {cls.n_classes - 1}]; "
                f"found [{labels.min()}, {labels.max()}]")
        k = np.arange(cls.n_classes).reshape((-1,) + (1,) * labels.ndim)
        return (labels[None] == k).astype(np.float32)

    @classmethod
    def colorize(cls, labels: Array) -> Array:
        """The palette colours (uint8 ``H x W x 3``) of a class-id map."""
        return cls.PALETTE[np.asarray(labels)]


# --------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------
WORLDS: Dict[str, Type[SyntheticWorld]] = {
    cls.name: cls for cls in (StripesWorld, Edges2ShapesWorld, Labels2SceneWorld)
}


def get_world(name: str, size: int = 64, seed: int = 0) -> SyntheticWorld:
    """The synthetic world called ``name`` (see :data:`WORLDS`) at ``size`` and ``seed``."""
    try:
        cls = WORLDS[name]
    except (KeyError, TypeError):
        raise UnknownTaskError(
            f"unknown synthetic task {name!r}; known tasks: {', '.join(sorted(WORLDS))}") from None
    return cls(size=size, seed=seed)
