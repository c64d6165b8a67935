"""Once-for-all search: the space of subnets, their cost, search under a MAC budget, export.

GAN Compression trains one weight-sharing supernet
(:class:`~gancomp_lite.models.dynamic.SuperMobileResnetGenerator`) and then
*searches* it: every subnet is already trained (it is a slice of the
supernet), so finding the best architecture under a budget only costs
evaluations, no training.  This module holds

* :class:`SearchSpace`: one candidate list per configuration entry, with GAN
  Compression's presets (:data:`SPACES`: ``channels-32`` of its CycleGAN
  supernet, ``channels-48`` of its pix2pix one, Fast GAN Compression's
  ``channels-64-cyclegan`` / ``channels-64-pix2pix``) and the same lists
  scaled by a quarter for the ``ci`` scale (``*-ci``: the ``ci`` teachers
  are ngf 16, a quarter of the papers' 64);
* :func:`subnet_macs`: the MACs of a subnet by formula (equal to the
  profiler in the conventions it supports, which the tests check), so a
  search over thousands of subnets does not trace each one;
* :func:`exhaustive_search` (GAN Compression's ``search.py``: every subnet
  under the budget) and :func:`evolution_search` (Fast GAN Compression's
  ``evolution_search.py``: population, top-quarter parents, half mutation,
  half crossover, over-budget children redrawn).  Both take any
  ``score(config)`` and return the best subnet and a trace of the best score
  found against the number of subnets evaluated;
* :class:`ScoreCache`: scores on disk, keyed by the supernet's weights and
  the evaluation data's recipe (the same on every CPU), so a repeated search
  is instant; :func:`shipped_score_table` reads a shipped one and checks some
  of its scores live;
* :func:`held_out_split`, :func:`subnet_scorer`: the evaluation the searches
  use here, L1 to the target on a held-out slice of the *training* data
  (never the test split);
* :func:`export_subnet`: a plain
  :class:`~gancomp_lite.models.resnet.SubMobileResnetGenerator` holding
  exactly the subnet's weights.

Explained in chapter ``nb/09_ofa``.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import torch
import torch.nn as nn

from ..errors import BudgetError, GancompError, OutputExistsError
from ..models.dynamic import (N_ENTRIES, ConfigError, SuperMobileResnetGenerator, format_config,
                              subnet_widths, parse_config)
from ..models.resnet import SubMobileResnetGenerator

Config = tuple[int, ...]


# -- the search space ------------------------------------------------------------
@dataclass(frozen=True)
class SearchSpace:
    """One candidate list per entry ``c0 .. c7`` (largest first)."""

    name: str
    candidates: tuple[tuple[int, ...], ...]

    def __post_init__(self):
        if len(self.candidates) != N_ENTRIES or not all(self.candidates):
            raise ConfigError(f"a search space needs {N_ENTRIES} non-empty candidate lists")

    @property
    def ngf(self) -> int:
        """The supernet width that holds every subnet of the space."""
        return max(max(c) for c in self.candidates)

    def size(self) -> int:
        """The number of subnets."""
        return math.prod(len(c) for c in self.candidates)

    def largest(self) -> Config:
        return tuple(max(c) for c in self.candidates)

    def smallest(self) -> Config:
        return tuple(min(c) for c in self.candidates)

    def __iter__(self) -> Iterator[Config]:
        return iter(itertools.product(*self.candidates))

    def validate(self, config: str | Sequence[int]) -> Config:
        """``config`` as 8 ints; a :class:`ConfigError` naming every entry outside its list."""
        c = parse_config(config)
        bad = [f"c{i}={v} (allowed: {', '.join(map(str, self.candidates[i]))})"
               for i, v in enumerate(c) if v not in self.candidates[i]]
        if bad:
            raise ConfigError(f"configuration {format_config(c)} is outside the search space "
                              f"{self.name}: {'; '.join(bad)}")
        return c

    def sample(self, rng: random.Random) -> Config:
        """One subnet, each entry drawn uniformly from its list (GAN Compression's sampling)."""
        return tuple(rng.choice(c) for c in self.candidates)

    def as_dict(self) -> dict:
        return {"name": self.name, "candidates": [list(c) for c in self.candidates]}

    @classmethod
    def from_dict(cls, d: dict) -> "SearchSpace":
        return cls(d["name"], tuple(tuple(int(v) for v in c) for c in d["candidates"]))


def _space(name: str, lists: Sequence[Sequence[int]]) -> SearchSpace:
    return SearchSpace(name, tuple(tuple(sorted(set(c), reverse=True)) for c in lists))


def _quarter(lists):
    return [[max(1, round(v / 4)) for v in c] for c in lists]


_PAPER = {
    "channels-32": [[32, 24, 16]] * 8,
    "channels-48": [[48, 32], [48, 32]] + [[48, 40, 32]] * 4 + [[48, 32, 24, 16]] * 2,
    "channels-64-cyclegan": [[64, 48, 32, 24, 16]] * 8,
    "channels-64-pix2pix": [[64, 56, 48, 40, 32, 24, 16]] * 8,
}

#: GAN Compression's candidate lists (``configs/resnet_configs.py``) and, as
#: ``NAME-ci``, the same lists divided by 4 for the ``ci`` scale's ngf-16 teachers
SPACES: dict[str, SearchSpace] = {
    **{name: _space(name, lists) for name, lists in _PAPER.items()},
    **{f"{name}-ci": _space(f"{name}-ci", _quarter(lists)) for name, lists in _PAPER.items()},
}


def search_space(name: str) -> SearchSpace:
    """The preset ``name`` of :data:`SPACES`."""
    if name not in SPACES:
        raise GancompError(f"unknown search space {name!r}: expected one of {', '.join(SPACES)}")
    return SPACES[name]


# -- cost --------------------------------------------------------------------------
#: conventions :func:`subnet_macs` computes by formula (non-affine InstanceNorm networks)
FORMULA_CONVENTIONS = ("in-counted", "in-excluded", "cat")


def subnet_macs(config: str | Sequence[int], size: int | tuple[int, int] = 256,
                convention: str = "in-counted", input_nc: int = 3, output_nc: int = 3,
                n_blocks: int = 9) -> int:
    """MACs of the sub-mobile ResNet ``config`` on one ``size`` image, by
    formula, in ``convention`` (torchprofile's rules: a convolution costs
    ``numel(out) * C_in/groups * k*k``, a transposed one is counted over its
    output grid; ``in-counted`` and ``cat`` add ``numel(out)`` per
    InstanceNorm).  Equal to :func:`~gancomp_lite.metrics.cost.profile_macs`
    of the exported network (checked by the tests)."""
    if convention not in FORMULA_CONVENTIONS:
        raise GancompError(f"subnet_macs computes {', '.join(FORMULA_CONVENTIONS)}, not "
                           f"{convention!r}: profile the exported subnet instead")
    h, w = (size, size) if isinstance(size, int) else size
    if h % 4 or w % 4:
        from ..errors import ImageSizeError
        raise ImageSizeError(f"the ResNet generator needs height and width divisible by 4, got {(h, w)}")
    norm = 0 if convention == "in-excluded" else 1
    W = subnet_widths(config, n_blocks)
    full, half, quarter = h * w, (h // 2) * (w // 2), (h // 4) * (w // 4)
    first, d1, r, u1, u2 = W["first"], W["down1"], W["residual"], W["up1"], W["up2"]
    macs = full * first * (input_nc * 49 + norm)            # 7x7 conv, norm
    macs += half * d1 * (first * 9 + norm)                   # stride-2 conv, norm
    macs += quarter * r * (d1 * 9 + norm)                    # stride-2 conv, norm
    for m in W["inner"]:                                     # separable blocks
        macs += quarter * (r * 9 + norm * r + m * r + norm * m      # dw, its norm, pw, norm
                           + m * 9 + norm * m + r * m + norm * r)   # dw, its norm, pw, norm
    macs += half * u1 * (r * 9 + norm)                       # transposed conv (output grid), norm
    macs += full * u2 * (u1 * 9 + norm)
    macs += full * output_nc * u2 * 49                       # output 7x7 conv
    return macs


# -- export --------------------------------------------------------------------------
def export_subnet(supernet: SuperMobileResnetGenerator, config: str | Sequence[int]) -> SubMobileResnetGenerator:
    """A plain :class:`SubMobileResnetGenerator` holding the leading slices of
    ``supernet``'s weights for ``config``: its outputs equal
    ``supernet(x, config)``.  Both networks share the Mobile ResNet's keys and
    every slice is a leading one in each dimension, so each exported tensor is
    the supernet's tensor cut to the exported shape.  ``supernet`` is not changed."""
    c = supernet.check(config)
    cfg = supernet.config
    sub = SubMobileResnetGenerator(list(c), input_nc=cfg["input_nc"], output_nc=cfg["output_nc"],
                                   norm=cfg["norm"], n_blocks=cfg["n_blocks"], dropout=cfg["dropout"],
                                   padding_type=cfg["padding_type"])
    big = supernet.state_dict()
    state = {}
    for key, t in sub.state_dict().items():
        if key not in big:
            raise GancompError(f"the supernet has no tensor {key!r} to export")
        state[key] = big[key][tuple(slice(0, n) for n in t.shape)].detach().clone()
    sub.load_state_dict(state)
    param = next(supernet.parameters())
    return sub.to(device=param.device, dtype=param.dtype).train(supernet.training)


# -- evaluation --------------------------------------------------------------------
class _TrainPart(torch.utils.data.Subset):
    """The training part of a split dataset (passes ``set_epoch`` through)."""

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)


def search_split(dataset, n_val: int):
    """Split a training dataset into the part a supernet trains on (all but
    the last ``n_val`` items) and the held-out part the search scores subnets
    on (the last ``n_val`` items, as tensors ``A`` and ``B``).  GAN
    Compression searches on a held-out slice of the training set too; the
    test split is never used for search.  For a synthetic task, items are
    fixed by their index, so the training part of ``n_train + n_val`` items
    is exactly the usual ``n_train``-item training set."""
    from torch.utils.data import default_collate

    n = len(dataset)
    if not 1 <= n_val < n:
        raise GancompError(f"the held-out split needs 1 <= n_val < {n} items, got n_val={n_val}")
    batch = default_collate([dataset[i] for i in range(n - n_val, n)])
    return _TrainPart(dataset, range(n - n_val)), {"A": batch["A"], "B": batch["B"]}


class EvalSet(dict):
    """The tensors ``A`` and ``B`` of an evaluation set, with the ``recipe``
    that determines them (``None`` for tensors of unknown origin).

    A score table is keyed by the recipe, not by the tensors' float bits: the
    synthetic worlds draw with NumPy, whose vectorised ``cos``, ``arctan2`` and
    ``power`` round differently on AVX-512, AVX2 and ARM, so the same recipe
    gives images that differ in a few pixels by one grey level from one CPU
    to another (measured in ``tests/test_cpu_independence.py``)."""

    def __init__(self, tensors: dict[str, torch.Tensor], recipe: dict | None = None):
        super().__init__(tensors)
        self.recipe = dict(recipe) if recipe is not None else None


def held_out_split(task: str, n_train: int, n_val: int, size: int) -> EvalSet:
    """The held-out part of :func:`search_split` for a synthetic ``task``
    trained on ``n_train`` items (training-phase items ``n_train ..
    n_train + n_val - 1``), with its recipe (see :class:`EvalSet`)."""
    from ..data import open_dataset
    from ..data.synthetic import WORLD_VERSION

    data = search_split(open_dataset(task, phase="train", n=n_train + n_val, size=size, seed=0),
                        n_val)[1]
    return EvalSet(data, {"task": task, "phase": "train", "items": [n_train, n_train + n_val],
                          "size": size, "seed": 0, "world_version": WORLD_VERSION})


def folder_held_out_split(folder, n_val: int, size: int, direction: str = "AtoB") -> EvalSet:
    """The held-out part of :func:`search_split` for a supernet trained on a
    real paired ``folder`` (``train/`` of AB images): its last ``n_val``
    training items, never trained on, resized to ``size`` without the training
    run's random crop and flip (GAN Compression's search, too, scores a held-out
    slice of the training set with the test split's preprocessing), read
    ``direction``; with its recipe (see :class:`EvalSet`).  An unpaired folder
    has no targets to score L1 against: one clear error."""
    from ..data.datasets import AlignedFolderDataset

    root = Path(folder)
    if not (root / "train").is_dir():
        what = ("an unpaired folder (trainA/, trainB/): its held-out images have no targets, and "
                "the package's search scores subnets by L1 (GAN Compression searches CycleGAN "
                "subnets by FID)" if (root / "trainA").is_dir() else "not there")
        raise GancompError(f"the supernet was trained on {root}, which is {what}: the search "
                           f"scores subnets on that folder's held-out training pairs")
    dataset = AlignedFolderDataset(root, phase="train", size=size, preprocess="resize",
                                   direction=direction)
    n = len(dataset)
    return EvalSet(search_split(dataset, n_val)[1],
                   {"folder": str(root.resolve()), "phase": "train", "items": [n - n_val, n],
                    "size": size, "direction": direction, "preprocess": "resize"})


def subnet_scorer(supernet: SuperMobileResnetGenerator, data: dict[str, torch.Tensor],
                  batch_size: int = 64) -> Callable[[Sequence[int]], float]:
    """``score(config)``: mean L1 between the subnet's outputs and the targets
    ``data["B"]`` (lower is better), without gradients, in eval mode on a
    private copy, so the caller's supernet is never changed."""
    import copy

    net = copy.deepcopy(supernet).eval()
    A, B = data["A"], data["B"]
    device = next(net.parameters()).device

    @torch.no_grad()
    def score(config) -> float:
        total = 0.0
        for a, b in zip(A.split(batch_size), B.split(batch_size)):
            total += float((net(a.to(device), config=config).cpu() - b).abs().sum())
        return total / B.numel()

    return score


def weights_digest(net: nn.Module) -> str:
    """A short SHA-256 of a network's weights (what a score cache is keyed on)."""
    h = hashlib.sha256()
    for key, t in sorted(net.state_dict().items()):
        h.update(key.encode())
        h.update(t.detach().cpu().contiguous().float().numpy().tobytes())
    return h.hexdigest()[:16]


def data_digest(data: dict[str, torch.Tensor]) -> str:
    """A short SHA-256 of the float bytes of ``data``'s tensors.  Tied to the
    last bit of every value, so it names data of unknown origin only: an
    :class:`EvalSet` is keyed by its recipe instead (:func:`data_key`)."""
    h = hashlib.sha256()
    for key in sorted(data):
        h.update(key.encode())
        h.update(data[key].detach().cpu().contiguous().float().numpy().tobytes())
    return h.hexdigest()[:16]


def data_key(data: dict[str, torch.Tensor]) -> str:
    """What a score table says its evaluation data are: the recipe of an
    :class:`EvalSet` (task, phase, items, size, seed and the synthetic worlds'
    drawing version), the same on every CPU; for a real folder's held-out
    items its path, items and preprocessing with their :func:`data_digest`
    (which also tells when the folder changed); for other tensors their
    digest, prefixed ``sha256:``."""
    recipe = getattr(data, "recipe", None)
    if recipe is None:
        return "sha256:" + data_digest(data)
    r = recipe
    if "folder" in r:
        return (f"folder:{r['folder']}:{r['phase']}[{r['items'][0]}:{r['items'][1]}]:"
                f"size{r['size']}:{r['direction']}:{r['preprocess']}:sha256:" + data_digest(data))
    return (f"synthetic:{r['task']}:{r['phase']}[{r['items'][0]}:{r['items'][1]}]:"
            f"size{r['size']}:seed{r['seed']}:world-v{r['world_version']}")


#: the largest difference allowed between a subnet's score in a shipped table
#: and the same subnet scored here.  The same shipped supernet scored on the
#: same recipe differs by at most 4e-8 between this book's recording machine
#: (AVX-512) and the same CPU limited to AVX2 or to SSE4.1 kernels (NumPy,
#: oneDNN, MKL, ATen and glibc all limited): a 25-fold margin.
SCORE_TOLERANCE = 1e-6


class ScoreTableMismatch(GancompError):
    """A score table's live check failed: its scores are not those of this
    supernet on this evaluation set."""


def _key_difference(stored: dict | None, key: dict) -> str:
    """``field: stored X, here Y`` for each field in which two keys differ."""
    stored = stored if isinstance(stored, dict) else {}
    fields = [k for k in sorted(set(stored) | set(key)) if stored.get(k) != key.get(k)]
    return "; ".join(f"{k}: stored {stored.get(k)!r}, here {key.get(k)!r}" for k in fields)


class ScoreCache:
    """Scores of subnets on disk (JSON), so a repeated search is instant.

    ``key`` identifies what the scores depend on (the supernet's weights, the
    evaluation data by :func:`data_key`, the metric, the space); a file made
    for another key is a :class:`~gancomp_lite.errors.OutputExistsError`
    naming the fields that differ (never silently mixed or replaced) unless
    ``force``.  A ``read_only`` cache (a shipped table read by a chapter)
    never raises on another key: it warns in one line
    (:class:`~gancomp_lite.errors.ScoreTableWarning`, also kept in
    :attr:`mismatch`) and keeps the stored scores only when the weights,
    metric and space match, for :meth:`verify` to check live.  :meth:`wrap`
    turns a ``score(config)`` into a cached one; :meth:`save` writes the file
    (atomically, with ``record``: the command and code version that made it)
    when scores were added, unless ``read_only`` (new scores then stay in
    memory).
    """

    def __init__(self, path: str | Path | None, key: dict, force: bool = False,
                 read_only: bool = False, record: dict | None = None):
        import warnings

        from ..errors import ScoreTableWarning

        self.path = Path(path) if path is not None else None
        self.key = dict(key)
        self.record = dict(record or {})
        self.stored_record: dict = {}
        self.scores: dict[str, float] = {}
        self.hits = 0
        self.read_only = read_only
        self.mismatch: str | None = None
        self.checked: dict | None = None     # the last :meth:`verify`'s outcome
        self._added = False
        if self.path is not None and self.path.exists():
            try:
                stored = json.loads(self.path.read_text())
                scores = {k: float(v) for k, v in stored.get("scores", {}).items()}
            except (OSError, json.JSONDecodeError, AttributeError, TypeError, ValueError) as e:
                raise GancompError(f"{self.path} is not a score cache ({e})") from None
            self.stored_record = {k: v for k, v in stored.items() if k not in ("key", "scores")}
            if stored.get("key") == self.key:
                self.scores = scores
                self.record = {**self.stored_record, **self.record}   # kept when scores are added
            elif read_only:
                self.mismatch = _key_difference(stored.get("key"), self.key)
                same_net = all(stored.get("key", {}).get(k) == self.key.get(k)
                               for k in ("weights", "metric", "space"))
                if same_net:
                    self.scores = scores
                warnings.warn(f"{self.path.name} was made for another key ({self.mismatch}): "
                              + ("its scores are used only if a live check of some of them "
                                 "agrees" if same_net else
                                 "its scores are of another supernet, so subnets are scored here"),
                              ScoreTableWarning, stacklevel=2)
            elif not force:
                raise OutputExistsError(
                    f"{self.path} holds scores of another supernet or evaluation set "
                    f"({_key_difference(stored.get('key'), self.key)}); pass another cache file, "
                    f"or --force to replace it")

    def wrap(self, score: Callable[[Sequence[int]], float]) -> Callable[[Sequence[int]], float]:
        def cached(config) -> float:
            k = format_config(config)
            if k in self.scores:
                self.hits += 1
                return self.scores[k]
            value = float(score(config))
            self.scores[k] = value
            self._added = True
            return value
        return cached

    def verify(self, score: Callable[[Sequence[int]], float], configs: Sequence[Config],
               tolerance: float = SCORE_TOLERANCE) -> float:
        """Score ``configs`` live with ``score`` and compare them with the
        table: returns the largest absolute difference (0 for configs the
        table does not hold).  Beyond ``tolerance`` a ``read_only`` cache
        drops its scores with a :class:`~gancomp_lite.errors.ScoreTableWarning`
        (subnets are then scored live); any other cache raises
        :class:`ScoreTableMismatch`."""
        import warnings

        from ..errors import ScoreTableWarning

        worst, where = 0.0, None
        for config in configs:
            k = format_config(config)
            if k in self.scores:
                diff = abs(float(score(config)) - self.scores[k])
                if diff >= worst:
                    worst, where = diff, k
        self.checked = {"configs": [format_config(c) for c in configs], "max_abs_diff": worst,
                        "tolerance": tolerance}
        if worst > tolerance:
            message = (f"{self.path.name if self.path else 'the score table'}: subnet {where} "
                       f"scores {worst:.3g} away from its stored score (tolerance {tolerance:g})")
            if not self.read_only:
                raise ScoreTableMismatch(message + "; re-make the table with --force")
            warnings.warn(message + ": its scores are not used, subnets are scored here",
                          ScoreTableWarning, stacklevel=2)
            self.scores = {}
            self.mismatch = (self.mismatch + "; " if self.mismatch else "") + "failed its live check"
        return worst

    def save(self) -> None:
        """Write the file if scores were added (never for a ``read_only`` cache,
        such as a shipped table read by a chapter)."""
        if self.path is None or self.read_only or not self._added:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps({"key": self.key, **self.record, "scores": self.scores},
                                  indent=0) + "\n")
        tmp.replace(self.path)


# -- search ------------------------------------------------------------------------
@dataclass
class SearchResult:
    """The best subnet found, its cost and score, and how the search got there."""

    method: str
    budget: int
    best: Config
    best_macs: int
    best_score: float
    evaluated: int
    seconds: float
    trace: list[tuple[int, float]]   # (subnets evaluated so far, best score so far)
    cache_hits: int = 0              # scores read from a ScoreCache instead of computed

    def as_dict(self) -> dict:
        return {"method": self.method, "budget": self.budget, "best": format_config(self.best),
                "best_macs": self.best_macs, "best_score": self.best_score,
                "evaluated": self.evaluated, "seconds": self.seconds, "cache_hits": self.cache_hits,
                "trace": [list(t) for t in self.trace]}


def _check_budget(space: SearchSpace, budget: float, cost: Callable[[Config], int]) -> int:
    from ..errors import check_number

    budget = check_number(budget, "a MAC budget", above=0, error=BudgetError)
    smallest = cost(space.smallest())
    if budget < smallest:
        raise BudgetError(f"a budget of {budget / 1e9:.4g}G MACs is below the smallest subnet of "
                          f"{space.name} ({format_config(space.smallest())}: {smallest / 1e9:.4g}G "
                          f"MACs): no subnet fits")
    return int(budget)


def exhaustive_search(space: SearchSpace, budget: float, score: Callable[[Config], float],
                      cost: Callable[[Config], int], progress: bool = False) -> SearchResult:
    """Every subnet of ``space`` whose ``cost`` is at most ``budget`` is scored
    (lower is better); the best one wins (ties: the first in the space's order)."""
    from ..progress import tqdm

    budget = _check_budget(space, budget, cost)
    t0 = time.perf_counter()
    fits = [c for c in space if cost(c) <= budget]
    best, best_score, trace = None, math.inf, []
    for i, c in enumerate(tqdm(fits, desc="exhaustive search", disable=not progress), 1):
        s = score(c)
        if s < best_score:
            best, best_score = c, s
        trace.append((i, best_score))
    return SearchResult("exhaustive", budget, best, cost(best), best_score, len(fits),
                        time.perf_counter() - t0, trace)


def evolution_search(space: SearchSpace, budget: float, score: Callable[[Config], float],
                     cost: Callable[[Config], int], population: int = 100, generations: int = 500,
                     parent_ratio: float = 0.25, mutation_ratio: float = 0.5,
                     mutate_prob: float = 0.2, seed: int = 0, max_redraws: int = 1000,
                     progress: bool = False, floor: float = 0.0) -> SearchResult:
    """Fast GAN Compression's evolutionary search: a random population under
    the budget; each generation keeps the best ``parent_ratio`` as parents and
    fills the rest with ``mutation_ratio`` mutants (each entry redrawn with
    probability ``mutate_prob``) and crossovers of two random parents (each
    entry from either); a child over the budget is redrawn.  Deterministic
    for a given ``seed``; every subnet is scored once (re-scoring a subnet
    already seen reuses its score).

    ``floor`` (MACs, default 0): also redraw a subnet cheaper than this, so
    every candidate costs between ``floor`` and ``budget`` (an equal-cost
    comparison, chapter 11; not in Fast GAN Compression).  When no draw lands
    there in ``max_redraws`` tries, that is an error naming the band."""
    from ..progress import tqdm

    from ..errors import check_number

    for what, value in (("parent_ratio", parent_ratio), ("mutation_ratio", mutation_ratio),
                        ("mutate_prob", mutate_prob)):
        check_number(value, f"{what} (a probability)", minimum=0.0, maximum=1.0)
    if parent_ratio + mutation_ratio > 1:
        raise GancompError(f"parent_ratio + mutation_ratio must be at most 1 (the rest are "
                           f"crossovers), got {parent_ratio} + {mutation_ratio}")
    budget = _check_budget(space, budget, cost)
    if population < 2 or generations < 1:
        raise GancompError(f"evolution needs population >= 2 and generations >= 1, got "
                           f"{population} and {generations}")
    rng = random.Random(seed)
    t0 = time.perf_counter()
    seen: dict[Config, float] = {}
    trace: list[tuple[int, float]] = []
    best = [math.inf]

    def judged(c: Config) -> float:
        if c not in seen:
            seen[c] = score(c)
            best[0] = min(best[0], seen[c])
            trace.append((len(seen), best[0]))
        return seen[c]

    check_number(floor, "floor (MACs)", minimum=0.0)

    def draw(make: Callable[[], Config]) -> Config:
        for _ in range(max_redraws):
            c = make()
            if floor <= cost(c) <= budget:
                return c
        if floor > 0:
            raise BudgetError(f"no subnet of {space.name} between {floor / 1e9:.4g}G and "
                              f"{budget / 1e9:.4g}G MACs in {max_redraws} draws: widen the band")
        return space.smallest()   # always fits (checked above)

    pop = [draw(lambda: space.sample(rng)) for _ in range(population)]
    n_parents = max(1, int(round(parent_ratio * population)))
    n_mutants = int(round(mutation_ratio * population))
    for _ in tqdm(range(generations), desc="evolution", disable=not progress):
        ranked = sorted(pop, key=lambda c: (judged(c), c))
        parents = ranked[:n_parents]

        def mutant():
            p = rng.choice(parents)
            return tuple(rng.choice(space.candidates[i]) if rng.random() < mutate_prob else v
                         for i, v in enumerate(p))

        def cross():
            a, b = rng.choice(parents), rng.choice(parents)
            return tuple(x if rng.random() < 0.5 else y for x, y in zip(a, b))

        pop = parents + [draw(mutant) for _ in range(n_mutants)]
        pop += [draw(cross) for _ in range(population - len(pop))]
    for c in pop:
        judged(c)
    winner = min(seen, key=lambda c: (seen[c], c))
    return SearchResult("evolution", budget, winner, cost(winner), seen[winner], len(seen),
                        time.perf_counter() - t0, trace)


SEARCHES = {"exhaustive": exhaustive_search, "evolution": evolution_search}


def search(supernet: SuperMobileResnetGenerator, space: SearchSpace, budget: float,
           data: dict[str, torch.Tensor], method: str = "exhaustive", size: int = 256,
           convention: str = "in-counted", cache: str | Path | None = None, force: bool = False,
           progress: bool = False, **options) -> SearchResult:
    """Search ``supernet`` for the subnet of ``space`` with the lowest L1 on
    the held-out ``data`` whose MACs (``convention``, one ``size`` image) are
    at most ``budget``.  ``method``: ``exhaustive`` or ``evolution`` (whose
    ``options`` are :func:`evolution_search`'s).  With ``cache`` (a file, or a
    :class:`ScoreCache` of :func:`score_cache` shared between searches), scores are
    read from and added to it.  ``supernet`` is not changed."""
    if method not in SEARCHES:
        raise GancompError(f"unknown search method {method!r}: expected one of {', '.join(SEARCHES)}")
    if options and method != "evolution":
        raise GancompError(f"options {sorted(options)} apply to the evolutionary search only")
    for c in (space.largest(), space.smallest()):
        supernet.check(c)
    cfg = supernet.config
    store = cache if isinstance(cache, ScoreCache) else score_cache(supernet, space, data, cache, force)
    key = score_cache(supernet, space, data).key
    if store.key != key:
        raise GancompError(f"this score cache was made for {store.key}, not for this supernet and "
                           f"evaluation set ({key})")
    hits_before = store.hits
    score = store.wrap(subnet_scorer(supernet, data))

    def cost(c):
        return subnet_macs(c, size, convention, cfg["input_nc"], cfg["output_nc"], cfg["n_blocks"])

    try:
        result = SEARCHES[method](space, budget, score, cost, progress=progress, **options)
    finally:
        store.save()
    result.cache_hits = store.hits - hits_before
    return result


def score_cache(supernet: SuperMobileResnetGenerator, space: SearchSpace, data: dict[str, torch.Tensor],
                path: str | Path | None = None, force: bool = False,
                read_only: bool = False, record: dict | None = None) -> ScoreCache:
    """The :class:`ScoreCache` of ``supernet``'s held-out L1 scores on ``data``
    (in memory, or in the file ``path``): keyed by the weights, the data (by
    :func:`data_key`: its recipe, the same on every CPU), the metric and the
    space, so it is never mixed with another supernet's."""
    return ScoreCache(path, {"weights": weights_digest(supernet), "data": data_key(data),
                             "metric": "l1", "space": space.name}, force=force,
                      read_only=read_only, record=record)


def probe_configs(space: SearchSpace, n: int = 4, seed: int = 0) -> list[Config]:
    """The subnets a shipped table is checked on: the largest, the smallest
    and ``n - 2`` drawn with ``seed``."""
    rng = random.Random(seed)
    return [space.largest(), space.smallest()] + [space.sample(rng) for _ in range(max(n - 2, 0))]


def shipped_score_table(supernet: SuperMobileResnetGenerator, space: SearchSpace,
                        data: dict[str, torch.Tensor], path: str | Path | None,
                        probes: int = 4) -> ScoreCache:
    """A shipped score table, read-only and checked: ``probes`` of its subnets
    (:func:`probe_configs`) are scored here and must agree with it within
    :data:`SCORE_TOLERANCE`.  Never raises on a mismatch: a table of another
    key or one failing the check is said in one line
    (:class:`~gancomp_lite.errors.ScoreTableWarning`) and, if its scores
    cannot be trusted, left empty so that subnets are scored here.  ``path``
    ``None``: an empty in-memory table.  The result's ``checked`` holds the
    check's largest difference."""
    table = score_cache(supernet, space, data, path, read_only=True)
    if table.scores:
        table.verify(subnet_scorer(supernet, data), probe_configs(space, probes))
    return table


def make_score_table(supernet: SuperMobileResnetGenerator, space: SearchSpace,
                     data: dict[str, torch.Tensor], path: str | Path, record: dict | None = None,
                     force: bool = False, progress: bool = False) -> ScoreCache:
    """Score every subnet of ``space`` on ``data`` and write the table to
    ``path`` with ``record`` (the command and code version that made it) and
    the wall seconds it took: the file a chapter reads with
    :func:`shipped_score_table`.  An existing ``path`` is refused unless
    ``force`` (it is then made anew, not merged).  ``supernet`` is not changed."""
    from ..progress import tqdm

    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists; pass --force to make it anew")
    table = score_cache(supernet, space, data, None, record=record)
    score = table.wrap(subnet_scorer(supernet, data))
    t0 = time.perf_counter()
    for config in tqdm(space, total=space.size(), desc="scoring subnets", disable=not progress):
        score(config)
    table.record["seconds"] = time.perf_counter() - t0
    table.path = path
    table.save()
    return table
