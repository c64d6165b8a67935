"""CAT's one-step pruning: a trained inception teacher cut to a MAC budget at once.

Every scored channel carries the absolute scale ``|gamma|`` of the affine norm
that follows its convolution: the encoder's three norms, the *first* norm of
every inception branch (res: after its first ``k x k`` conv; dw: after its 1x1
expansion) and the decoder's two norms.  One global threshold ``t`` keeps the
channels with ``|gamma| > t`` everywhere at once:

* encoder and decoder layers keep at least ``floor`` channels (the top ones
  by ``|gamma|``; CAT: 16 at ngf 64, here scaled with the teacher's width);
* a branch with no channel left is removed;
* the residual width of every block is what survives of the encoder's last
  layer (the blocks' outputs and their final norm follow it), and a dw
  branch's depthwise conv keeps the channels of its expansion.

The pruned network's MACs fall as ``t`` rises, so a bisection on ``t``
between the smallest and the largest score finds the threshold whose network
just meets the budget (CAT stops when the interval is within ``1e-3`` of its
lower end and the MACs are at or under the target).  As CAT's released code
does, the student is re-initialised by default (the teacher supplies the
architecture); ``inherit=True`` copies the kept channels' weights instead.
Explained in chapter ``nb/07_cat``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from ..errors import BudgetError, GancompError
from ..models.inception import BRANCHES, KERNELS, InceptionGenerator

#: CAT's floor of encoder/decoder channels at ngf 64 (``prune_cin_lb``)
FLOOR_AT_NGF64 = 16


def _first_norm(branch: nn.Sequential) -> nn.Module:
    """The norm right after a branch's first convolution (the scored one)."""
    seen_conv = False
    for m in branch:
        if isinstance(m, nn.Conv2d):
            seen_conv = True
        elif seen_conv and isinstance(m, (nn.InstanceNorm2d, nn.BatchNorm2d)):
            return m
    raise GancompError("an inception branch without a norm after its first convolution")


def _branch_slots(block) -> list[tuple[str, nn.Sequential | None]]:
    """``(branch name, module or None)`` in :data:`BRANCHES` order (None: removed)."""
    res, dw = iter(block.res_ops), iter(block.dw_ops)
    k = len(KERNELS)
    return [(name, (next(res) if i < k else next(dw)) if block.widths[i] else None)
            for i, name in enumerate(BRANCHES)]


def scores(teacher: InceptionGenerator) -> dict[str, torch.Tensor]:
    """``|gamma|`` of every scored norm, by name: the norm's module name for the
    encoder and decoder (``down_sampling.N``, ``up_sampling.N``) and
    ``features.B.BRANCH`` for the first norm of a branch of block ``B``."""
    if not isinstance(teacher, InceptionGenerator):
        raise GancompError(f"one-step pruning needs an inception generator, got {type(teacher).__name__}")
    out = {}
    for name in teacher.SCORED_DOWN + teacher.SCORED_UP:
        norm = teacher.get_submodule(name)
        if getattr(norm, "weight", None) is None:
            raise GancompError(f"{name} has no affine scale to score")
        out[name] = norm.weight.detach().abs().float().cpu()
    for b, block in enumerate(teacher.features):
        for bname, branch in _branch_slots(block):
            if branch is not None:
                out[f"features.{b}.{bname}"] = _first_norm(branch).weight.detach().abs().float().cpu()
    return out


def default_floor(teacher: InceptionGenerator) -> int:
    """CAT's floor (16 at ngf 64) scaled with the teacher's width, at least 1."""
    return max(1, round(FLOOR_AT_NGF64 * teacher.config["ngf"] / 64))


def keep_at(score: dict[str, torch.Tensor], threshold: float, floor: int) -> dict[str, torch.Tensor]:
    """Kept channel indices (sorted) of every scored layer at ``threshold``."""
    keep = {}
    for name, s in score.items():
        idx = torch.nonzero(s > threshold).flatten()
        if not name.startswith("features.") and len(idx) < floor:
            idx = torch.topk(s, min(floor, len(s))).indices
        keep[name] = torch.sort(idx).values
    return keep


def pruned_config(teacher: InceptionGenerator, keep: dict[str, torch.Tensor]) -> dict:
    """The :class:`InceptionGenerator` config of the network ``keep`` describes."""
    cfg = dict(teacher.config)
    cfg["down"] = [len(keep[n]) for n in teacher.SCORED_DOWN]
    cfg["up"] = [len(keep[n]) for n in teacher.SCORED_UP]
    cfg["branches"] = [[len(keep.get(f"features.{b}.{name}", ())) for name in BRANCHES]
                       for b in range(len(teacher.features))]
    return cfg


#: the MAC conventions :func:`config_macs` counts from a config alone
COUNTED_CONVENTIONS = ("cat", "in-excluded", "in-counted")


def config_macs(cfg: dict, size=256, convention: str = "cat") -> int:
    """MACs of the :class:`InceptionGenerator` that ``cfg`` describes on one
    ``size`` image, counted layer by layer from the widths, without building
    or running the network: what :func:`~gancomp_lite.metrics.cost.profile_macs`
    measures in ``convention``, to the MAC (tests check it on random widths).

    A convolution costs ``numel(output) * in_channels / groups * k * k``
    (transposed ones over their output grid, as torchprofile counts them); a
    norm ``numel(output)``, except BatchNorm in CAT's convention, which counts
    it as 0.  Biases, activations, padding and the branches' sum are free.
    The bisection of :func:`one_step_prune` calls this at every step, where a
    profiler's trace would cost about a second each."""
    if convention not in COUNTED_CONVENTIONS:
        raise GancompError(f"config_macs counts the conventions {', '.join(COUNTED_CONVENTIONS)}; "
                           f"profile {convention!r} with metrics.cost.profile_macs")
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if h % 4 or w % 4 or h <= 0 or w <= 0:
        from ..errors import ImageSizeError
        raise ImageSizeError(f"the inception generator needs height and width divisible by 4, "
                             f"got {h}x{w}")
    counted = convention != "cat" or cfg["norm"] != "batch"

    def norm(n: int) -> int:
        return n if counted else 0

    d0, d1, d2 = cfg["down"]
    u0, u1 = cfg["up"]
    full, half, quarter = h * w, (h // 2) * (w // 2), (h // 4) * (w // 4)
    macs = (full * d0 * cfg["input_nc"] * 49 + norm(full * d0)          # encoder
            + half * d1 * d0 * 9 + norm(half * d1) + quarter * d2 * d1 * 9 + norm(quarter * d2))
    for widths in cfg["branches"]:                                        # the blocks
        for k, m in zip(KERNELS, widths[:len(KERNELS)]):
            if m:      # k x k C -> m, norm, k x k m -> C
                macs += 2 * quarter * m * d2 * k * k + norm(quarter * m)
        for k, m in zip(KERNELS, widths[len(KERNELS):]):
            if m:      # 1x1 C -> m, norm, depthwise k x k, norm, 1x1 m -> C
                macs += 2 * quarter * m * d2 + quarter * m * k * k + norm(2 * quarter * m)
        if any(widths):
            macs += norm(quarter * d2)                                    # the block's norm
    macs += (half * u0 * d2 * 9 + norm(half * u0) + full * u1 * u0 * 9 + norm(full * u1)   # decoder
             + full * cfg["output_nc"] * u1 * 49)
    return int(macs)


def _macs(cfg: dict, size: int, convention: str, memo: dict) -> int:
    """MACs of the network ``cfg`` describes: counted from the widths
    (:func:`config_macs`) in the conventions it knows, else profiled once per
    distinct network and search (``memo`` lives for one :func:`one_step_prune`
    call: near its end a bisection revisits the same networks)."""
    import json

    if convention in COUNTED_CONVENTIONS:
        return config_macs(cfg, size, convention)
    from ..metrics.cost import profile_macs

    key = json.dumps([cfg, size, convention], sort_keys=True)
    if key not in memo:
        with torch.random.fork_rng():
            net = InceptionGenerator(**cfg)
        memo[key] = profile_macs(net, size, convention)
    return memo[key]


@dataclass
class PruneReport:
    """What :func:`one_step_prune` found."""

    target_macs: int
    macs: int
    threshold: float
    convention: str
    size: int
    config: dict
    reachable: tuple[int, int]        # MACs of the smallest and the largest prunable network
    steps: list[tuple[float, int]] = field(default_factory=list)   # (threshold, MACs) per step
    seconds: float = 0.0
    inherited: bool = False
    floor: int = 0                    # the encoder/decoder floor the search used

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def one_step_prune(teacher: InceptionGenerator, target_macs: float, size: int = 256,
                   convention: str = "cat", floor: int | None = None, inherit: bool = False,
                   tol: float = 1e-3, max_steps: int = 100) -> tuple[InceptionGenerator, PruneReport]:
    """Prune a copy of ``teacher`` to at most ``target_macs`` MACs at ``size`` x ``size``.

    Returns the student (re-initialised, or with the teacher's kept weights if
    ``inherit``) and a :class:`PruneReport` with the threshold, the
    bisection's steps and the wall seconds.  The teacher is not changed.  A
    target outside the reachable range (below the smallest network the floors
    allow, or at or above the teacher's own cost) is a
    :class:`~gancomp_lite.errors.BudgetError` that names the range.
    """
    start = time.perf_counter()
    score = scores(teacher)
    floor = default_floor(teacher) if floor is None else int(floor)
    if floor < 1:
        raise GancompError(f"the channel floor must be at least 1, got {floor}")
    everything = torch.cat(list(score.values()))
    lo, hi = float(everything.min()), float(everything.max())
    memo: dict[str, int] = {}
    teacher_macs = _macs(dict(teacher.config), size, convention, memo)
    largest = _macs(pruned_config(teacher, keep_at(score, lo - 1.0, floor)), size, convention, memo)
    smallest = _macs(pruned_config(teacher, keep_at(score, hi, floor)), size, convention, memo)
    from ..errors import check_number

    target = int(check_number(target_macs, "a target of MACs", above=0, error=BudgetError))
    if not smallest <= target < teacher_macs:
        raise BudgetError(
            f"a target of {target / 1e9:.4g}G MACs ({convention}, {size}px) cannot be met by "
            f"pruning this teacher: reachable are {smallest / 1e9:.4g}G (every branch removed, "
            f"encoder and decoder at {floor} channels) up to below the teacher's "
            f"{teacher_macs / 1e9:.4g}G")
    steps = []
    best = None
    lb, ub = lo - 1e-12, hi
    for _ in range(max_steps):
        mid = (lb + ub) / 2
        macs = _macs(pruned_config(teacher, keep_at(score, mid, floor)), size, convention, memo)
        steps.append((mid, macs))
        if macs > target:
            lb = mid
        else:
            ub = mid
            best = (mid, macs)
        if best is not None and ub - lb <= tol * max(abs(lb), 1e-12):
            break
    if best is None:   # cannot happen: hi itself meets the target
        best = (hi, smallest)
    threshold = best[0]
    report = PruneReport(target_macs=target, macs=best[1], threshold=threshold,
                         convention=convention, size=size,
                         config=pruned_config(teacher, keep_at(score, threshold, floor)),
                         reachable=(smallest, largest), steps=steps, inherited=inherit, floor=floor)
    if inherit:
        student = inherit_weights(teacher, report)
    else:
        with torch.random.fork_rng():
            student = InceptionGenerator(**report.config)
    report.seconds = time.perf_counter() - start
    return student, report


def prune_untrained(target_macs: float, ngf: int = 64, seed: int = 0, size: int = 256,
                    convention: str = "cat", **teacher_kw) -> tuple[InceptionGenerator, PruneReport]:
    """A stand-in for CAT's pruned student where no trained teacher exists:
    :func:`one_step_prune` of a fresh ``ngf`` inception teacher whose scored
    scales are i.i.d. uniform draws (seed ``seed``).

    Only the ranks of the scores matter to the global threshold, so with
    i.i.d. scores every layer keeps about the same fraction of its channels
    (apart from the encoder and decoder floors): a near-proportional shrink
    of the teacher to the budget.  A trained teacher's scales are not i.i.d.
    (CAT's pruning removes whole branches and keeps others nearly whole), so
    this network has CAT's MAC count, not CAT's released layout: it is for
    timing (latency depends on the shapes, not on the weights), never for
    quality.  Explained in chapter ``nb/10_latency``."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        teacher = InceptionGenerator(ngf=ngf, **teacher_kw)
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            norms = [teacher.get_submodule(n) for n in teacher.SCORED_DOWN + teacher.SCORED_UP]
            norms += [_first_norm(branch) for block in teacher.features
                      for _, branch in _branch_slots(block) if branch is not None]
            for norm in norms:
                norm.weight.copy_(torch.rand(norm.weight.shape, generator=g) + 1e-3)
        return one_step_prune(teacher, target_macs, size=size, convention=convention)


def inherit_weights(teacher: InceptionGenerator, report: PruneReport) -> InceptionGenerator:
    """The network ``report`` describes, holding ``teacher``'s weights of the
    channels its threshold kept (no new search: the threshold and floor are in
    the report).  A teacher whose pruning gives another network is an error."""
    keep = keep_at(scores(teacher), report.threshold, report.floor or default_floor(teacher))
    cfg = pruned_config(teacher, keep)
    if cfg != report.config:
        raise GancompError("this pruning report was not made from this teacher: its threshold "
                           "gives another network here")
    with torch.random.fork_rng():
        student = InceptionGenerator(**cfg)
    _copy_kept(teacher, student, keep)
    return student


#: the orders :func:`silence_channels` can pick a layer's channels in
SILENCE_ORDERS = ("lowest", "highest", "random")


def _scored_norms(teacher: InceptionGenerator) -> dict[str, nn.Module]:
    """The norm behind every name of :func:`scores`, in the same order."""
    out = {name: teacher.get_submodule(name) for name in teacher.SCORED_DOWN + teacher.SCORED_UP}
    for b, block in enumerate(teacher.features):
        for bname, branch in _branch_slots(block):
            if branch is not None:
                out[f"features.{b}.{bname}"] = _first_norm(branch)
    return out


def silence_channels(teacher: InceptionGenerator, fraction: float, order: str = "lowest",
                     seed: int = 0) -> InceptionGenerator:
    """A copy of ``teacher`` in which ``fraction`` of every scored layer's
    channels are switched off: the norm's scale and shift are set to zero, so
    the channel passes a constant zero on (the same network as one that lost
    the channel, at the teacher's shapes).  ``order`` picks the channels:
    ``lowest`` or ``highest`` ``|gamma|`` (what CAT's threshold removes first,
    or last), or ``random`` (drawn with ``seed``).  If ``|gamma|`` carries the
    channels' importance, silencing the lowest costs less quality than
    silencing random ones, and the highest costs most (chapter ``nb/07_cat``
    measures it).  The teacher is not changed."""
    import copy

    from ..errors import check_number

    fraction = check_number(fraction, "the fraction of channels to silence", minimum=0, maximum=1)
    if order not in SILENCE_ORDERS:
        raise GancompError(f"unknown order {order!r}: choose one of {', '.join(SILENCE_ORDERS)}")
    score = scores(teacher)
    net = copy.deepcopy(teacher)
    g = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for name, norm in _scored_norms(net).items():
            s = score[name]
            k = int(round(fraction * len(s)))
            if k == 0:
                continue
            if order == "random":
                idx = torch.randperm(len(s), generator=g)[:k]
            else:
                idx = torch.topk(s, k, largest=order == "highest").indices
            norm.weight[idx] = 0.0
            if norm.bias is not None:
                norm.bias[idx] = 0.0
    return net


# -- inheriting the kept weights ------------------------------------------------
def _take(t: torch.Tensor, out_idx=None, in_idx=None, transposed: bool = False) -> torch.Tensor:
    o, i = (1, 0) if transposed else (0, 1)
    if out_idx is not None:
        t = t.index_select(o, out_idx.to(t.device))     # scores live on the CPU, weights anywhere
    if in_idx is not None and t.dim() > 1:
        t = t.index_select(i, in_idx.to(t.device))
    return t


def _copy_conv(src: nn.Module, dst: nn.Module, out_idx=None, in_idx=None) -> None:
    transposed = isinstance(src, nn.ConvTranspose2d)
    dst.weight.copy_(_take(src.weight, out_idx, in_idx, transposed))
    if src.bias is not None:
        dst.bias.copy_(src.bias if out_idx is None else src.bias.index_select(0, out_idx.to(src.bias.device)))


def _copy_norm(src: nn.Module, dst: nn.Module, idx) -> None:
    for name in ("weight", "bias", "running_mean", "running_var"):
        a, b = getattr(src, name, None), getattr(dst, name, None)
        if a is not None and b is not None:
            b.copy_(a.index_select(0, idx))
    if getattr(src, "num_batches_tracked", None) is not None:
        dst.num_batches_tracked.copy_(src.num_batches_tracked)


@torch.no_grad()
def _copy_kept(teacher: InceptionGenerator, student: InceptionGenerator, keep) -> None:
    T, S = teacher, student
    d = [keep[n] for n in T.SCORED_DOWN]
    u = [keep[n] for n in T.SCORED_UP]
    _copy_conv(T.down_sampling[1], S.down_sampling[1], d[0])
    _copy_norm(T.down_sampling[2], S.down_sampling[2], d[0])
    _copy_conv(T.down_sampling[4], S.down_sampling[4], d[1], d[0])
    _copy_norm(T.down_sampling[5], S.down_sampling[5], d[1])
    _copy_conv(T.down_sampling[7], S.down_sampling[7], d[2], d[1])
    _copy_norm(T.down_sampling[8], S.down_sampling[8], d[2])
    r = d[2]
    for b, (tb, sb) in enumerate(zip(T.features, S.features)):
        for (name, tbr), (_, sbr) in zip(_branch_slots(tb), _branch_slots(sb)):
            if tbr is None or sbr is None:
                continue
            k = keep[f"features.{b}.{name}"]
            tconvs = [m for m in tbr if isinstance(m, nn.Conv2d)]
            sconvs = [m for m in sbr if isinstance(m, nn.Conv2d)]
            tnorms = [m for m in tbr if isinstance(m, (nn.InstanceNorm2d, nn.BatchNorm2d))]
            snorms = [m for m in sbr if isinstance(m, (nn.InstanceNorm2d, nn.BatchNorm2d))]
            _copy_conv(tconvs[0], sconvs[0], k, r)
            if name.startswith("res"):
                _copy_conv(tconvs[1], sconvs[1], r, k)
            else:                                   # depthwise conv, then the 1x1 projection
                _copy_conv(tconvs[1], sconvs[1], k, None)
                _copy_conv(tconvs[2], sconvs[2], r, k)
            for tn, sn in zip(tnorms, snorms):
                _copy_norm(tn, sn, k)
        if isinstance(sb.pw_norm, (nn.InstanceNorm2d, nn.BatchNorm2d)):
            _copy_norm(tb.pw_norm, sb.pw_norm, r)
    _copy_conv(T.up_sampling[0], S.up_sampling[0], u[0], r)
    _copy_norm(T.up_sampling[1], S.up_sampling[1], u[0])
    _copy_conv(T.up_sampling[3], S.up_sampling[3], u[1], u[0])
    _copy_norm(T.up_sampling[4], S.up_sampling[4], u[1])
    _copy_conv(T.up_sampling[7], S.up_sampling[7], None, u[1])
