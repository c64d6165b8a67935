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
  the evaluation data, so a repeated search is instant;
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


def held_out_split(task: str, n_train: int, n_val: int, size: int) -> dict[str, torch.Tensor]:
    """The held-out part of :func:`search_split` for a synthetic ``task``
    trained on ``n_train`` items (training-phase items ``n_train ..
    n_train + n_val - 1``)."""
    from ..data import open_dataset

    return search_split(open_dataset(task, phase="train", n=n_train + n_val, size=size, seed=0),
                        n_val)[1]


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
    h = hashlib.sha256()
    for key in sorted(data):
        h.update(key.encode())
        h.update(data[key].detach().cpu().contiguous().float().numpy().tobytes())
    return h.hexdigest()[:16]


class ScoreCache:
    """Scores of subnets on disk (JSON), so a repeated search is instant.

    ``key`` identifies what the scores depend on (the supernet's weights, the
    evaluation data, the metric); a file made for another key is a
    :class:`~gancomp_lite.errors.OutputExistsError` (never silently mixed or
    replaced) unless ``force``.  :meth:`wrap` turns a ``score(config)`` into a
    cached one; :meth:`save` writes the file (atomically) when scores were added,
    unless ``read_only`` (new scores then stay in memory).
    """

    def __init__(self, path: str | Path | None, key: dict, force: bool = False,
                 read_only: bool = False):
        self.path = Path(path) if path is not None else None
        self.key = dict(key)
        self.scores: dict[str, float] = {}
        self.hits = 0
        self.read_only = read_only
        self._added = False
        if self.path is not None and self.path.exists():
            try:
                stored = json.loads(self.path.read_text())
            except (OSError, json.JSONDecodeError) as e:
                raise GancompError(f"{self.path} is not a score cache ({e})") from None
            if stored.get("key") == self.key:
                self.scores = {k: float(v) for k, v in stored.get("scores", {}).items()}
            elif not force:
                raise OutputExistsError(
                    f"{self.path} holds scores of another supernet or evaluation set "
                    f"({stored.get('key')}); pass another cache file, or --force to replace it")

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

    def save(self) -> None:
        """Write the file if scores were added (never for a ``read_only`` cache,
        such as a shipped table read by a chapter)."""
        if self.path is None or self.read_only or not self._added:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps({"key": self.key, "scores": self.scores}, indent=0) + "\n")
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
    from tqdm.auto import tqdm

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
                     progress: bool = False) -> SearchResult:
    """Fast GAN Compression's evolutionary search: a random population under
    the budget; each generation keeps the best ``parent_ratio`` as parents and
    fills the rest with ``mutation_ratio`` mutants (each entry redrawn with
    probability ``mutate_prob``) and crossovers of two random parents (each
    entry from either); a child over the budget is redrawn.  Deterministic
    for a given ``seed``; every subnet is scored once (re-scoring a subnet
    already seen reuses its score)."""
    from tqdm.auto import tqdm

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

    def draw(make: Callable[[], Config]) -> Config:
        for _ in range(max_redraws):
            c = make()
            if cost(c) <= budget:
                return c
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
                read_only: bool = False) -> ScoreCache:
    """The :class:`ScoreCache` of ``supernet``'s held-out L1 scores on ``data``
    (in memory, or in the file ``path``): keyed by the weights, the data, the
    metric and the space, so it is never mixed with another supernet's."""
    return ScoreCache(path, {"weights": weights_digest(supernet), "data": data_digest(data),
                             "metric": "l1", "space": space.name}, force=force, read_only=read_only)
