"""Tests of the synthetic worlds (gancomp_lite.data.synthetic)."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from gancomp_lite.data.synthetic import (WORLDS, Edges2ShapesWorld, Labels2SceneWorld,
                                         StripesWorld, UnknownTaskError, check_size, get_world)
from gancomp_lite.errors import GancompError, ImageSizeError

TASKS = sorted(WORLDS)


def images_of(world, index: int, split: str = "train"):
    """Every image a world produces for one index (A, B, oracle / paired A, B)."""
    out = [world.sample_a(index, split), world.sample_b(index, split), world.oracle(index, split)]
    out.extend(world.sample(index, split))
    return out


def dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """Binary dilation with a (2r+1) square, by shifting."""
    h, w = mask.shape
    padded = np.pad(mask, r)
    out = np.zeros_like(mask)
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            out |= padded[dy:dy + h, dx:dx + w]
    return out


# ---------------------------------------------------------------- common API
def test_registry_and_attributes():
    assert set(WORLDS) == {"stripes", "edges2shapes", "labels2scene"}
    assert WORLDS["stripes"] is StripesWorld and not StripesWorld.aligned
    assert Edges2ShapesWorld.aligned and Labels2SceneWorld.aligned
    w = get_world("stripes", size=32, seed=3)
    assert (w.name, w.size, w.seed) == ("stripes", 32, 3)
    assert w.__doc__ and Labels2SceneWorld.__doc__


def test_unknown_task_lists_known_names():
    with pytest.raises(UnknownTaskError) as info:
        get_world("horse2zebra")
    assert isinstance(info.value, GancompError) and isinstance(info.value, ValueError)
    for name in WORLDS:
        assert name in str(info.value)
    with pytest.raises(UnknownTaskError):
        get_world("stripes").sample_a(0, split="validation")


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("size", [16, 64, 100])
def test_shapes_and_dtypes(task, size):
    world = get_world(task, size=size)
    for img in images_of(world, 1):
        assert img.dtype == np.uint8
        assert img.shape == (size, size, 3)


@pytest.mark.parametrize("bad", [30, 62, 12, 8, 0, -4, 15])
def test_bad_sizes_raise(bad):
    with pytest.raises(ImageSizeError) as info:
        get_world("stripes", size=bad)
    assert str(bad) in str(info.value) and "multiple of 4" in str(info.value)
    assert isinstance(info.value, ValueError)
    with pytest.raises(ImageSizeError):
        check_size(bad)


def test_non_int_size_raises():
    with pytest.raises(ImageSizeError):
        get_world("edges2shapes", size=64.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("task", TASKS)
def test_determinism(task):
    a, b = get_world(task, 32, seed=0), get_world(task, 32, seed=0)
    for x, y in zip(images_of(a, 2), images_of(b, 2)):
        np.testing.assert_array_equal(x, y)
    other_seed = get_world(task, 32, seed=1)
    assert not np.array_equal(a.sample_a(2), other_seed.sample_a(2))
    assert not np.array_equal(a.sample_a(2), a.sample_a(3))
    assert not np.array_equal(a.sample_a(2, "train"), a.sample_a(2, "test"))


@pytest.mark.parametrize("task", TASKS)
def test_order_independence(task):
    forward = get_world(task, 32)
    first = {i: forward.sample(i) for i in range(4)}
    backward = get_world(task, 32)
    for i in (3, 0, 2, 1, 3):
        for x, y in zip(backward.sample(i), first[i]):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("task", TASKS)
def test_scene_is_resolution_independent(task):
    small, large = get_world(task, 32), get_world(task, 128)
    s, l = small.scene(5), large.scene(5)
    assert s.keys() == l.keys()
    for key in s:
        if isinstance(s[key], (float, int, np.ndarray)):
            np.testing.assert_array_equal(s[key], l[key])


def test_same_scene_at_any_resolution():
    """The 128 px animal mask, reduced to 32 px, matches the 32 px mask."""
    small, large = get_world("stripes", 32), get_world("stripes", 128)
    for i in range(3):
        m_small = small.animal_mask(i)
        m_large = large.animal_mask(i).reshape(32, 4, 32, 4).any(axis=(1, 3))
        iou = (m_small & m_large).sum() / (m_small | m_large).sum()
        assert iou > 0.9


# ---------------------------------------------------------------- stripes
@pytest.fixture(scope="module")
def stripes():
    return StripesWorld(size=64, seed=0)


def test_oracle_keeps_background_and_changes_animals(stripes):
    for i in range(4):
        a, o, mask = stripes.sample_a(i), stripes.oracle(i), stripes.animal_mask(i)
        assert 0.02 < mask.mean() < 0.5
        np.testing.assert_array_equal(a[~mask], o[~mask])
        changed = np.any(a != o, axis=-1)
        assert changed[mask].mean() > 0.6
        assert not changed[~mask].any()


def _near_black_white(img: np.ndarray, mask: np.ndarray):
    """Fractions of near-black and near-white pixels inside (away from the edge of) a mask."""
    interior = ~dilate(~mask, 1)
    px = img[interior].astype(int)
    return (px.max(axis=1) < 60).mean(), (px.min(axis=1) > 160).mean()


def test_striped_animals_are_black_and_white(stripes):
    for i in range(4):
        black, white = _near_black_white(stripes.sample_b(i), stripes.animal_mask(i, domain="B"))
        assert black > 0.15 and white > 0.15
        black, white = _near_black_white(stripes.oracle(i), stripes.animal_mask(i))
        assert black > 0.15 and white > 0.15
        black, white = _near_black_white(stripes.sample_a(i), stripes.animal_mask(i))
        assert black < 0.01 and white < 0.01


def test_domains_are_independent(stripes):
    for i in range(4):
        sa, sb = stripes.scene(i, domain="A"), stripes.scene(i, domain="B")
        assert sa["horizon"] != sb["horizon"]
        assert not np.array_equal(stripes.animal_mask(i), stripes.animal_mask(i, domain="B"))
        assert not np.array_equal(stripes.oracle(i), stripes.sample_b(i))


def test_stripes_depend_on_geometry_not_coat(stripes):
    """A -> B is a function of the shapes: recolouring the coat leaves the oracle unchanged."""
    scene = stripes.scene(1)
    recoloured = copy.deepcopy(scene)
    for an in recoloured["animals"]:
        an["coat"] = np.array([60.0, 200.0, 90.0], np.float32)
    np.testing.assert_array_equal(stripes.render(scene, True), stripes.render(recoloured, True))
    assert not np.array_equal(stripes.render(scene, False), stripes.render(recoloured, False))
    # and moving the animal moves its stripes with it
    moved = copy.deepcopy(scene)
    moved["animals"][0]["cx"] += 0.05
    assert not np.array_equal(stripes.render(scene, True), stripes.render(moved, True))


def test_stripes_render_matches_samples(stripes):
    scene = stripes.scene(2)
    np.testing.assert_array_equal(stripes.render(scene, striped=False), stripes.sample_a(2))
    np.testing.assert_array_equal(stripes.render(scene, striped=True), stripes.oracle(2))
    a, b = stripes.sample(2)
    np.testing.assert_array_equal(b, stripes.oracle(2))


# ---------------------------------------------------------------- edges2shapes
def test_edges_are_sparse_dark_lines_on_white():
    world = Edges2ShapesWorld(size=64)
    for i in range(6):
        a, b = world.sample(i)
        assert (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all()
        gray = a[..., 0]
        assert (gray == 255).mean() > 0.7
        dark = gray < 128
        assert 0.01 < dark.mean() < 0.25


def test_edges_lie_on_the_object_boundary():
    world = Edges2ShapesWorld(size=64)
    for i in range(6):
        a, b = world.sample(i)
        obj = world.object_mask(i)
        assert (b[~obj] == 255).all()          # white background
        assert (b[obj] < 250).any(axis=-1).mean() > 0.9
        dark = a[..., 0] < 128
        # every edge pixel is on or next to the object...
        assert not (dark & ~dilate(obj, 2)).any()
        # ...and the silhouette is drawn: nearly every boundary pixel has ink nearby
        boundary = obj & dilate(~obj, 1)
        assert dilate(dark, 1)[boundary].mean() > 0.9


def test_edges2shapes_draws_every_kind():
    world = Edges2ShapesWorld(size=32)
    kinds = {world.scene(i)["kind"] for i in range(40)}
    assert kinds == {"ellipse", "rounded_rect", "triangle", "star", "shoe"}
    # objects are coloured, not grey
    _, b = world.sample(0)
    px = b[world.object_mask(0)].astype(int)
    assert (px.max(axis=1) - px.min(axis=1)).mean() > 30


# ---------------------------------------------------------------- labels2scene
@pytest.fixture(scope="module")
def scenes():
    return Labels2SceneWorld(size=64, seed=0)


def test_labels_in_range_and_classes_seen(scenes):
    k = scenes.n_classes
    assert k == len(scenes.CLASS_NAMES) == len(scenes.PALETTE) >= 6
    assert scenes.PALETTE.dtype == np.uint8 and scenes.PALETTE.shape == (k, 3)
    seen = set()
    for i in range(8):
        labels = scenes.labels(i)
        assert labels.dtype == np.int64 and labels.shape == (64, 64)
        assert labels.min() >= 0 and labels.max() < k
        seen |= set(np.unique(labels).tolist())
    assert len(seen) >= 5
    names = {scenes.CLASS_NAMES[c] for c in seen}
    assert {"sky", "road", "building", "car"} <= names


def test_colour_map_is_palette_of_labels(scenes):
    for i in range(3):
        a, b = scenes.sample(i)
        labels = scenes.labels(i)
        np.testing.assert_array_equal(a, scenes.PALETTE[labels])
        a2, b2, labels2 = scenes.sample_with_labels(i)
        np.testing.assert_array_equal(a2, a)
        np.testing.assert_array_equal(b2, b)
        np.testing.assert_array_equal(labels2, labels)
        assert not np.array_equal(a, b)


def test_textures_vary_within_classes(scenes):
    a, b, labels = scenes.sample_with_labels(0)
    for cls in (scenes.SKY, scenes.ROAD, scenes.BUILDING):
        px = b[labels == cls].astype(float)
        assert px.std(axis=0).max() > 3, scenes.CLASS_NAMES[cls]


def test_one_hot(scenes):
    labels = scenes.labels(0)
    oh = Labels2SceneWorld.one_hot(labels)
    assert oh.dtype == np.float32 and oh.shape == (scenes.n_classes, 64, 64)
    np.testing.assert_array_equal(oh.sum(axis=0), 1.0)
    np.testing.assert_array_equal(oh.argmax(axis=0), labels)
    with pytest.raises(ValueError):
        Labels2SceneWorld.one_hot(labels + scenes.n_classes)
