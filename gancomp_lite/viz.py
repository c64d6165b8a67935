"""Figures and tables for the chapters: image grids and Markdown tables.

Every chapter uses these so that figures look alike; later chapters add the
comparison panel (input | teacher | student | target, with cost and quality).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import torch


def as_image(x) -> np.ndarray:
    """An HxWx3 (or HxW) float image in [0, 1] from a tensor in [-1, 1]
    (CxHxW) or a uint8 / float NumPy array (HxWxC)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu()
        if x.ndim == 4:
            if x.shape[0] != 1:
                raise ValueError(f"expected one image, got a batch of {x.shape[0]}")
            x = x[0]
        if x.ndim == 3:
            x = x.permute(1, 2, 0)
        return ((x.numpy() + 1.0) / 2.0).clip(0.0, 1.0)
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    return x.astype(np.float32).clip(0.0, 1.0)


def image_grid(rows: Sequence[Sequence], col_titles: Sequence[str] | None = None,
               row_titles: Sequence[str] | None = None, title: str | None = None,
               cell_inches: float = 1.6, cmap: str | None = None):
    """A matplotlib figure showing ``rows`` of images (see :func:`as_image`).

    Returns the figure (the notebook displays it).
    """
    import matplotlib.pyplot as plt

    n_rows = len(rows)
    n_cols = max(len(r) for r in rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(cell_inches * n_cols,
                                                       cell_inches * n_rows + (0.4 if title else 0)),
                             squeeze=False)
    for i, row in enumerate(rows):
        for j in range(n_cols):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(row) and row[j] is not None:
                img = as_image(row[j])
                ax.imshow(img, cmap=cmap if img.ndim == 2 else None, vmin=0, vmax=1,
                          interpolation="nearest")
            else:
                ax.axis("off")
            if i == 0 and col_titles and j < len(col_titles):
                ax.set_title(col_titles[j], fontsize=9)
            if j == 0 and row_titles and i < len(row_titles):
                ax.set_ylabel(row_titles[i], fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


class Table:
    """A small table that renders as Markdown in notebooks and the book."""

    def __init__(self, rows: Iterable[dict], columns: Sequence[str] | None = None,
                 formats: dict | None = None):
        self.rows = [dict(r) for r in rows]
        self.columns = list(columns) if columns else list(self.rows[0]) if self.rows else []
        self.formats = formats or {}

    @staticmethod
    def _escape(text: str) -> str:
        """A cell's text that cannot break the table: ``|`` escaped, one line."""
        return " ".join(str(text).split()).replace("|", "\\|")

    def _cell(self, col: str, value) -> str:
        if value is None:
            return "–"
        fmt = self.formats.get(col)
        if fmt and not isinstance(value, str):
            return format(value, fmt)
        return self._escape(value)

    def to_markdown(self) -> str:
        lines = ["| " + " | ".join(self._escape(c) for c in self.columns) + " |",
                 "|" + "|".join("---" for _ in self.columns) + "|"]
        for row in self.rows:
            lines.append("| " + " | ".join(self._cell(c, row.get(c)) for c in self.columns) + " |")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        return self.to_markdown()


def glue(name: str, value, display: bool = False):
    """Make ``value`` available to the prose as ``{glue:text}`name```.

    Uses myst-nb's ``glue`` when the book is being built; elsewhere (Colab, a
    plain Jupyter) it does nothing but return the value, so chapters run
    unchanged without myst-nb.
    """
    try:
        from myst_nb import glue as _glue
    except ImportError:  # not building the book
        return value
    _glue(name, value, display=display)
    return value


def feature_grid(features: dict, n_channels: int = 6, title: str | None = None,
                 cell_inches: float = 1.3):
    """Activations as images: one row per layer (``features``: name -> tensor
    ``1 x C x H x W`` or ``C x H x W``), its first ``n_channels`` channels,
    each scaled to [0, 1] on its own (so the pattern shows, not the scale).
    Used for the hooked layers of chapter ``nb/06_distillation``."""
    rows = []
    for f in features.values():
        f = f.detach().float().cpu()
        f = f[0] if f.ndim == 4 else f
        row = []
        for c in f[:n_channels]:
            lo, hi = c.min(), c.max()
            row.append(((c - lo) / (hi - lo) if hi > lo else torch.zeros_like(c)).numpy())
        rows.append(row)
    return image_grid(rows, col_titles=[f"channel {i}" for i in range(n_channels)],
                      row_titles=list(features), title=title, cell_inches=cell_inches,
                      cmap="viridis")


def comparison_panel(inputs, outputs: dict, target=None, target_name: str = "target",
                     n: int = 4, title: str | None = None, cell_inches: float = 1.5):
    """The book's standard image panel: one row per sample, columns
    input | each model's output (``outputs``: name -> batch) | target.

    Batches are tensors ``N x 3 x H x W`` in [-1, 1]; the first ``n`` rows show.
    """
    n = min(n, len(inputs))
    cols = ["input", *outputs] + ([target_name] if target is not None else [])
    rows = []
    for i in range(n):
        row = [inputs[i], *(out[i] for out in outputs.values())]
        if target is not None:
            row.append(target[i])
        rows.append(row)
    return image_grid(rows, col_titles=cols, title=title, cell_inches=cell_inches)


def cost_quality_table(models: dict, quality: dict, size: int = 256, latency_runs: int = 3,
                       metrics: Sequence[str] | None = None, convention: str = "in-excluded",
                       noise: dict | None = None) -> Table:
    """The book's standard table: for each model, MACs (at ``size``), params,
    CPU latency (median of ``latency_runs``, batch 1, at ``size``, and the
    range of those runs) and the quality numbers in ``quality[name]``
    (``metrics`` picks and orders them).

    ``noise`` (``label -> metrics``, typically ``{"noise floor (test sample)":
    metrics.quality.noise_floor(...)}`` on the same test sample) adds one row
    per label under the quality columns (keys matched ignoring case): two
    models closer than that row are within the noise of the test sample.  The
    latency range is the latency's own noise floor.  The latency column names
    the number of CPU threads it ran on (``make test`` gives each of its two
    workers one thread and one core: conftest.py)."""
    import torch

    from .metrics.cost import profile
    from .metrics.latency import measure_latency

    rows = []
    threads = torch.get_num_threads()
    ms = f"CPU ms ({size}px, {threads} thread{'s' if threads > 1 else ''})"
    for name, model in models.items():
        cost = profile(model, size, convention)
        lat = measure_latency(model, size=size, runs=latency_runs, warmup=1, device="cpu")
        row = {"model": name, f"GMACs ({convention}, {size}px)": cost.gmacs,
               "M params": cost.mparams, ms: lat.median_s * 1e3,
               "CPU ms range": (lat.max_s - lat.min_s) * 1e3}
        q = quality.get(name, {})
        for key in (metrics or list(q)):
            row[key] = q.get(key)
        rows.append(row)
    quality_cols = [c for c in (rows[0] if rows else {}) if c not in
                    ("model", f"GMACs ({convention}, {size}px)", "M params", ms, "CPU ms range")]
    for label, values in (noise or {}).items():
        lower = {str(k).lower(): v for k, v in values.items()}
        rows.append({"model": label, **{c: values.get(c, lower.get(c.lower())) for c in quality_cols}})
    fmt = {k: ".3f" for k in rows[0]} if rows else {}
    fmt[ms] = fmt["CPU ms range"] = ".1f"
    fmt.pop("model", None)
    return Table(rows, formats=fmt)


def plot_history(history: list[dict], keys: Sequence[str], title: str, smooth: int = 25,
                 ylabel: str = "loss", logy: bool = False):
    """Loss curves from a trainer's history, smoothed by a running mean of ``smooth`` steps."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    steps = np.array([h["step"] for h in history])
    for key in keys:
        y = np.array([h[key] for h in history], dtype=float)
        k = max(1, min(smooth, len(y)))
        ys = np.convolve(y, np.ones(k) / k, mode="valid")
        ax.plot(steps[k - 1:], ys, label=key)
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel + (f" (running mean of {smooth})" if smooth > 1 else ""))
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# -- recorded experiments -------------------------------------------------------

#: how results tables name the metrics
METRIC_NAMES = {"l1": "L1", "psnr": "PSNR", "ssim": "SSIM", "fid": "FID", "kid": "KID",
                "oracle_animal_w1": "oracle W1", "oracle_l1": "oracle L1"}


def results_table(rows: list[dict], keys: Sequence[str], metrics: Sequence[str],
                  floor: dict | None = None, carry: Sequence[str] = ("gmacs_256",),
                  extra: dict | None = None) -> Table:
    """Mean ± std over seeds of each of ``metrics`` per group of ``keys``, with
    a last **noise floor** row (``floor``: a dict of
    :func:`~gancomp_lite.metrics.quality.noise_floor`): a difference between
    two rows' means that is not larger than the floor is within the noise of
    the test sample.  ``extra``: more rows (a dict of label -> metric values),
    shown before the floor, such as the teacher.  The first metric is the
    primary evidence; the column titles say which metric each is."""
    from .experiments.results import summarise

    table: dict[tuple, dict] = {}
    for metric in metrics:
        for s in summarise(rows, keys, metric, carry=carry):
            row = table.setdefault(tuple(s[k] for k in keys),
                                   {**{k: s[k] for k in keys}, **{c: s[c] for c in carry},
                                    "seeds": s["seeds"]})
            row[METRIC_NAMES.get(metric, metric)] = (
                f"{s[f'{metric}_mean']:.4g} ± {s[f'{metric}_std']:.2g}")
    out = list(table.values())
    for label, values in (extra or {}).items():
        out.append({keys[0]: label, **{METRIC_NAMES.get(m, m): f"{values[m]:.4g}"
                                       for m in metrics if m in values}})
    if floor is not None:
        out.append({keys[0]: "noise floor", **{METRIC_NAMES.get(m, m): f"{floor[m]:.2g}"
                                               for m in metrics if m in floor}})
    columns = [*keys, *carry, "seeds", *[METRIC_NAMES.get(m, m) for m in metrics]]
    return Table(out, columns=columns, formats={c: ".3f" for c in carry if "gmacs" in c})


def verdict_list(verdicts: dict, recorded: dict | None = None) -> str:
    """Markdown: one bullet per verdict with its metric and reason, and whether
    the results file registered the claim before its run (see
    :func:`~gancomp_lite.experiments.results.registered`)."""
    from .experiments.results import registered

    lines = []
    for key, v in verdicts.items():
        claim = v.get("claim", key)
        when = ""
        if recorded is not None:
            when = (" (registered before the run)" if registered(recorded, claim)
                    else " (**added after the run**)")
        lines.append(f"- `{key}` [{METRIC_NAMES.get(v['metric'], v['metric'])}]: "
                     f"**{v['verdict']}**{when}: {v['reason']}")
    return "\n".join(lines)


def learning_curves(rows: list[dict], label_keys: Sequence[str], title: str):
    """The learning curves a recorded results file stores (each run's primary
    metric on 64 test images over training; one line per run, one colour per
    group of ``label_keys``).  Returns the figure, or ``None`` when the rows
    carry no curves (a file recorded before curves were stored)."""
    import matplotlib.pyplot as plt

    runs = [r for r in rows if r.get("curve")]
    if not runs:
        return None
    metric = next(k for k in runs[0]["curve"] if k not in ("step", "loss_step", "g_loss", "grad_share"))
    groups = sorted({tuple(r[k] for k in label_keys) for r in runs}, key=str)
    colours = {g: plt.cm.tab10(i % 10) for i, g in enumerate(groups)}
    fig, ax = plt.subplots(figsize=(7, 3.6))
    seen = set()
    for r in runs:
        g = tuple(r[k] for k in label_keys)
        ax.plot(r["curve"]["step"], r["curve"][metric], marker=".", color=colours[g], alpha=0.8,
                label=None if g in seen else " ".join(map(str, g)))
        seen.add(g)
    ax.set_xlabel("training step")
    ax.set_ylabel(f"{METRIC_NAMES.get(metric, metric)} on 64 test images (lower is better)")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def gradient_share_figure(rows: list[dict], arms: Sequence[str], title: str):
    """Each loss term's share of a student's gradient norm during training, one
    panel per arm of ``arms`` (stacked areas, the mean over the seeds whose
    rows carry ``curve["grad_share"]``; see
    :func:`~gancomp_lite.experiments.results.gradient_shares`).  Chapter
    ``nb/08_crd``.  Returns the figure, or ``None`` when no row of ``arms``
    carries shares."""
    import matplotlib.pyplot as plt
    import numpy as np

    by_arm = {a: [r for r in rows if r.get("arm") == a and (r.get("curve") or {}).get("grad_share")]
              for a in arms}
    by_arm = {a: runs for a, runs in by_arm.items() if runs}
    if not by_arm:
        return None
    terms = sorted({t for runs in by_arm.values() for r in runs for t in r["curve"]["grad_share"]})
    cmap = plt.cm.tab10 if len(terms) <= 10 else plt.cm.tab20   # one colour per term
    colours = {t: cmap(i % cmap.N) for i, t in enumerate(terms)}
    fig, axes = plt.subplots(1, len(by_arm), figsize=(3.2 * len(by_arm), 2.9), sharey=True,
                             squeeze=False)
    for ax, (arm, runs) in zip(axes[0], by_arm.items()):
        steps = runs[0]["curve"]["step"]
        own = [t for t in terms if t in runs[0]["curve"]["grad_share"]]
        mean = np.array([[np.mean([r["curve"]["grad_share"][t][i] for r in runs])
                          for i in range(len(steps))] for t in own])
        ax.stackplot(steps, mean, colors=[colours[t] for t in own], labels=own, alpha=0.85)
        ax.set_title(f"{arm} ({len(runs)} seed{'s' if len(runs) > 1 else ''})", fontsize=9)
        ax.set_xlabel("training step")
        ax.set_ylim(0, 1)
    axes[0][0].set_ylabel("share of the gradient norm")
    handles = {t: plt.Rectangle((0, 0), 1, 1, color=colours[t]) for t in terms}
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=min(len(terms), 8),
               fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 0.95))
    return fig


def inception_layer_widths(config: dict) -> tuple[list[str], "np.ndarray", "np.ndarray"]:
    """An inception generator's widths layer by layer, from its ``config``:
    the layer names (``enc 1-3``, ``block 1..n``, ``dec 1-2``), the plain
    width of each encoder and decoder layer (0 for the blocks) and each
    block's width per branch (``[layers, len(BRANCHES)]``, 0 elsewhere)."""
    import numpy as np

    from .models.inception import BRANCHES

    n = config["n_blocks"]
    names = ["enc 1", "enc 2", "enc 3"] + [f"block {i + 1}" for i in range(n)] + ["dec 1", "dec 2"]
    per_branch = np.zeros((len(names), len(BRANCHES)))
    plain = np.zeros(len(names))
    plain[:3], plain[-2:] = config["down"], config["up"]
    per_branch[3:3 + n] = np.array(config["branches"])
    return names, plain, per_branch


def pruned_widths_figure(teacher_config: dict, student_config: dict, title: str | None = None):
    """What one-step pruning kept, layer by layer: the teacher's widths (pale,
    left) beside the pruned student's (solid, right), each block's bar split
    into its branches.  Chapter ``nb/07_cat``."""
    import matplotlib.pyplot as plt
    import numpy as np

    from .models.inception import BRANCHES

    names, t_plain, t_branch = inception_layer_widths(teacher_config)
    _, s_plain, s_branch = inception_layer_widths(student_config)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(11, 3.6))
    ax.bar(x - 0.2, t_plain, 0.4, color="lightgray", edgecolor="gray", label="teacher (encoder/decoder)")
    ax.bar(x + 0.2, s_plain, 0.4, color="tab:gray", label="student (encoder/decoder)")
    colours = plt.cm.tab20(np.linspace(0, 1, 12))[::2]
    bottom_t, bottom_s = np.zeros(len(names)), np.zeros(len(names))
    for j, name in enumerate(BRANCHES):
        ax.bar(x - 0.2, t_branch[:, j], 0.4, bottom=bottom_t, color=colours[j], alpha=0.35)
        ax.bar(x + 0.2, s_branch[:, j], 0.4, bottom=bottom_s, color=colours[j], label=name)
        bottom_t += t_branch[:, j]
        bottom_s += s_branch[:, j]
    ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("channels")
    ax.set_title(title or "Widths: teacher (left, pale) and the pruned student (right)")
    ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    return fig


def inception_block_diagram(dim: int, widths: Sequence[int], title: str | None = None):
    """CAT's inception residual block drawn: the input, one column per branch
    (its layers and width; a removed branch greyed out), the sum, the norm and
    the skip connection.  Chapter ``nb/07_cat``."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    from .models.inception import BRANCHES

    if len(widths) != len(BRANCHES):
        raise ValueError(f"an inception block has {len(BRANCHES)} branch widths "
                         f"({', '.join(BRANCHES)}), got {len(widths)}")

    def layers(name: str, m: int) -> list[str]:
        k = int(name[-1])
        if name.startswith("res"):
            return [f"{k}x{k} conv {dim}->{m}", "norm, ReLU", f"{k}x{k} conv {m}->{dim}"]
        return [f"1x1 conv {dim}->{m}", "norm, ReLU", f"{k}x{k} depthwise ({m})", "norm, ReLU",
                f"1x1 conv {m}->{dim}"]

    fig, ax = plt.subplots(figsize=(11, 5.2))
    ax.set_xlim(-0.5, len(BRANCHES) - 0.5)
    ax.set_ylim(-1.6, 7.4)
    ax.axis("off")

    def box(x, y, text, colour, w=0.9, h=0.55, alpha=1.0):
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02",
                                    fc=colour, ec="black", lw=0.6, alpha=alpha))
        ax.text(x, y, text, ha="center", va="center", fontsize=7, alpha=max(alpha, 0.5))

    mid = (len(BRANCHES) - 1) / 2
    box(mid, 6.8, f"x  ({dim} channels)", "#dddddd", w=2.0)
    for i, (name, m) in enumerate(zip(BRANCHES, widths)):
        alive = m > 0
        colour = ("#cfe2f3" if name.startswith("res") else "#d9ead3") if alive else "#f4f4f4"
        ax.annotate("", (i, 6.0), (mid, 6.5), arrowprops=dict(arrowstyle="->", lw=0.5,
                                                             alpha=1 if alive else 0.3))
        ax.text(i, 5.75, f"{name}  m={m}" if alive else f"{name}: removed", ha="center",
                fontsize=8, weight="bold" if alive else "normal", alpha=1 if alive else 0.5)
        ls = layers(name, max(m, 0))
        for j, text in enumerate(ls):
            box(i, 5.1 - 0.8 * j, text, colour, alpha=1 if alive else 0.35)
        ax.annotate("", (mid, 0.9), (i, 5.1 - 0.8 * (len(ls) - 1) - 0.3),
                    arrowprops=dict(arrowstyle="->", lw=0.5, alpha=1 if alive else 0.3))
    box(mid, 0.6, "sum of branches", "#fff2cc", w=2.0)
    box(mid, -0.3, "norm", "#fff2cc", w=2.0)
    box(mid, -1.2, "+ x  (residual)", "#dddddd", w=2.0)
    left = -0.47   # the skip connection runs down the left margin
    ax.plot([mid - 1.0, left, left], [6.8, 6.8, -1.2], color="black", lw=0.8, ls="--")
    ax.annotate("", (mid - 1.0, -1.2), (left, -1.2), arrowprops=dict(arrowstyle="->", lw=0.8, ls="--"))
    ax.text(left + 0.05, 2.5, "skip", fontsize=7, rotation=90, va="center")
    ax.set_title(title or "Inception residual block (CAT)", fontsize=10)
    fig.tight_layout()
    return fig


def content_sets_figure(image, patch_size: int, title: str | None = None, row: int | None = None,
                        column: int | None = None):
    """CRD's three content sets drawn on one output image (``[3, H, W]`` in
    [-1, 1]): one row and one column highlighted, the patch grid outlined.
    Chapter ``nb/08_crd``."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    img = as_image(image)
    h, w = img.shape[:2]
    row = h // 3 if row is None else row
    column = 2 * w // 3 if column is None else column
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.3))
    names = [f"rows: {h} items of 3x{w}", f"columns: {w} items of 3x{h}",
             f"patches {patch_size}x{patch_size}: {(h // patch_size) * (w // patch_size)} items"]
    for ax, name in zip(axes, names):
        ax.imshow(img, interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].add_patch(Rectangle((-0.5, row - 0.5), w, 1, fill=False, edgecolor="red", lw=1.5))
    axes[1].add_patch(Rectangle((column - 0.5, -0.5), 1, h, fill=False, edgecolor="red", lw=1.5))
    for y in range(0, h, patch_size):
        for x in range(0, w, patch_size):
            axes[2].add_patch(Rectangle((x - 0.5, y - 0.5), patch_size, patch_size, fill=False,
                                        edgecolor="red", lw=0.6))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def relation_heatmaps(matrices: dict, title: str, vmin: float | None = None, vmax: float | None = None,
                      label: str = "item index"):
    """Side-by-side heat maps of ``{name: N x N matrix}`` on one colour scale
    (relations of teacher and students).  Chapter ``nb/08_crd``."""
    import matplotlib.pyplot as plt

    mats = {k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v))
            for k, v in matrices.items()}
    lo = min(float(m.min()) for m in mats.values()) if vmin is None else vmin
    hi = max(float(m.max()) for m in mats.values()) if vmax is None else vmax
    fig, axes = plt.subplots(1, len(mats), figsize=(3.1 * len(mats) + 0.8, 3.2), squeeze=False)
    im = None
    for ax, (name, m) in zip(axes[0], mats.items()):
        im = ax.imshow(m, vmin=lo, vmax=hi, cmap="viridis")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(label)
        ax.set_ylabel(label)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8)
    fig.suptitle(title)
    return fig


def term_invariance_figure(values: dict, reference: str, title: str):
    """A heat map of loss terms (columns) against changed student outputs
    (rows, ``{change: {term: value}}``), each value divided by the term's
    value for the ``reference`` row (an output that learned nothing), on a
    log colour scale: a term whose cell is dark for a change cannot see that
    change.  Chapter ``nb/08_crd``."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    rows = list(values)
    terms = list(values[reference])
    ratio = np.array([[max(values[r][t], 1e-12) / max(values[reference][t], 1e-12) for t in terms]
                      for r in rows])
    fig, ax = plt.subplots(figsize=(1.1 * len(terms) + 2.6, 0.5 * len(rows) + 1.4))
    im = ax.imshow(np.clip(ratio, 1e-4, 10.0), cmap="magma", norm=LogNorm(vmin=1e-4, vmax=10.0))
    for i in range(len(rows)):
        for j in range(len(terms)):
            ax.text(j, i, f"{ratio[i, j]:.2g}" if ratio[i, j] >= 1e-6 else "0", ha="center",
                    va="center", fontsize=8,
                    color="white" if ratio[i, j] < 0.05 else "black")
    ax.set_xticks(range(len(terms)), terms, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("loss term")
    ax.set_ylabel("student output")
    fig.colorbar(im, ax=ax, shrink=0.8, label=f"value / value for {reference}")
    ax.set_title(title)
    fig.tight_layout()
    return fig


# -- once-for-all (chapter nb/09_ofa) ------------------------------------------------

def widgets_enabled() -> bool:
    """Whether a chapter should show live ipywidgets: not while the book is
    built or tested (``make`` sets ``GANCOMP_STATIC=1``: a widget cannot run
    in the rendered page, and its messages keep a run out of the cache), yes
    in a notebook a reader runs, if ``ipywidgets`` is installed (a Jupyter
    without it gets the static panels, not an ImportError)."""
    import importlib.util
    import os

    return (os.environ.get("GANCOMP_STATIC") != "1"
            and importlib.util.find_spec("ipywidgets") is not None)


def weight_slice_figure(weight, slices: dict, title: str):
    """One convolution weight ``[out, in, k, k]`` as an out x in grid of its
    filters' mean |w|, with the leading slice ``[:out_c, :in_c]`` of each
    entry of ``slices`` (``name -> (out_c, in_c)``) outlined: the weights
    that subnet uses."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    w = weight.detach().float().abs().mean(dim=tuple(range(2, weight.dim()))).cpu().numpy()
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    im = ax.imshow(w, cmap="Greys", aspect="auto")
    colours = ["tab:red", "tab:blue", "tab:green", "tab:orange"]
    for i, (name, (o, c)) in enumerate(slices.items()):
        ax.add_patch(Rectangle((-0.5, -0.5), c, o, fill=False, lw=2.2 - 0.5 * i,
                               edgecolor=colours[i % 4], label=f"{name}: W[:{o}, :{c}]"))
    ax.set_xlabel("input channel")
    ax.set_ylabel("output channel")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.colorbar(im, ax=ax, label="mean |weight| of the filter")
    fig.tight_layout()
    return fig


def tradeoff_figure(summaries: dict, title: str, metric: str = "l1", budgets: dict | None = None):
    """Quality against MACs: ``summaries`` maps a label to a list of
    ``(gmacs, mean, std)`` points (one line per label, error bars over
    seeds); ``budgets`` (label -> GMACs) draws the budgets as dotted lines."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8))
    markers = ["o", "s", "^", "D", "v"]
    for i, (label, points) in enumerate(summaries.items()):
        points = sorted(points)
        ax.errorbar([p[0] for p in points], [p[1] for p in points], yerr=[p[2] for p in points],
                    marker=markers[i % len(markers)], capsize=3, label=label,
                    linestyle="-" if len(points) > 1 else "none")
    for name, g in (budgets or {}).items():
        ax.axvline(g, color="grey", lw=0.6, ls=":")
        ax.text(g, ax.get_ylim()[1], name, fontsize=7, ha="center", va="bottom", color="grey")
    ax.set_xlabel("GMACs per 256x256 image")
    ax.set_ylabel(f"{METRIC_NAMES.get(metric, metric)} on the test split (lower is better)")
    ax.set_title(title, pad=14)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def search_trace_figure(traces: dict, title: str, ylabel: str = "best held-out L1 so far"):
    """Best score found against subnets evaluated, one line per search
    (``traces``: label -> list of ``(evaluated, best)``)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.4))
    for label, trace in traces.items():
        ax.step([t[0] for t in trace], [t[1] for t in trace], where="post", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("subnets evaluated (log scale)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def subnet_budget_panel(budgets, best_at, inputs, teacher_out, target, n: int = 3,
                        cell_inches: float = 1.5):
    """The once-for-all panel: for each budget (MACs), the best subnet found
    (``best_at(budget) -> (label, outputs)``) beside the teacher's output and
    the target.  The chapter's slider and its static version both draw this."""
    outputs = {"teacher": teacher_out}
    for b in budgets:
        label, out = best_at(b)
        outputs[label] = out
    return comparison_panel(inputs, outputs, target, n=n, cell_inches=cell_inches)


def method_scatter(rows: list[dict], x: str, title: str, xlabel: str, metric: str = "l1",
                   group: str = "method", style: str | None = "budget_ngf", logx: bool = False,
                   reference: dict | None = None, order: Sequence | None = None):
    """Quality against one cost per run (chapter 11): every run of ``rows`` is
    a small point at ``(row[x], row[metric])``, coloured by ``group`` (in the
    order of ``order``, so that a method keeps its colour from plot to plot);
    each group's mean over its runs (per value of ``style``, one marker shape
    each) is a large marker.  ``reference`` (label -> value of ``metric``)
    draws horizontal lines such as the teacher and the trivial translators."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.2, 4.0))
    present = {r[group] for r in rows}
    groups = [g for g in (order or dict.fromkeys(r[group] for r in rows)) if g in present]
    styles = list(dict.fromkeys(r[style] for r in rows)) if style else [None]
    colours = {g: plt.cm.tab10(i % 10) for i, g in enumerate(groups)}
    shapes = {s: m for s, m in zip(styles, ["o", "s", "^", "D", "v", "P"])}
    for g in groups:
        for s in styles:
            runs = [r for r in rows if r[group] == g and (style is None or r[style] == s)]
            if not runs:
                continue
            xs, ys = [r[x] for r in runs], [r[metric] for r in runs]
            ax.scatter(xs, ys, s=14, color=colours[g], alpha=0.45, marker=shapes[s])
            ax.scatter([sum(xs) / len(xs)], [sum(ys) / len(ys)], s=90, color=colours[g],
                       marker=shapes[s], edgecolors="black", linewidths=0.8)
    if logx:
        from matplotlib.ticker import FuncFormatter

        ax.set_xscale("log")
        plain = FuncFormatter(lambda v, _: f"{v:g}")
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(plain)
        ax.tick_params(axis="x", which="minor", labelsize=7)
    for label, value in (reference or {}).items():
        ax.axhline(value, color="grey", lw=0.8, ls="--")
        ax.text(ax.get_xlim()[0], value, f" {label}", fontsize=7, va="bottom", ha="left",
                color="grey")
    handles = [plt.Line2D([], [], color=colours[g], marker="o", ls="none", label=str(g))
               for g in groups]
    if style:
        handles += [plt.Line2D([], [], color="black", marker=shapes[s], ls="none",
                               markerfacecolor="white", label=f"{style.replace('_', ' ')} {s}")
                    for s in styles]
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{METRIC_NAMES.get(metric, metric)} on the test split (lower is better)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def protocol_figure(runs: dict, title: str):
    """The three checkpoint protocols on learning curves (chapter 11): for each
    run of ``runs`` (label -> a row with a ``curve`` of ``step``, ``l1`` on the
    test split and ``held_out_l1``), the test curve (solid) and the held-out
    curve (dashed); a star marks the step best on the test split (what
    best-on-test reports), a ring the step best on the held-out items (whose
    *test* value the held-out protocol reports), a square the last step."""
    import matplotlib.pyplot as plt

    from .experiments.comparison import protocols

    fig, ax = plt.subplots(figsize=(7.2, 3.8))
    for i, (label, row) in enumerate(runs.items()):
        c, colour = row["curve"], plt.cm.tab10(i % 10)
        p = protocols(c)
        ax.plot(c["step"], c["l1"], color=colour, marker=".", label=f"{label}: test")
        ax.plot(c["step"], c["held_out_l1"], color=colour, ls="--", alpha=0.6,
                label=f"{label}: held-out training items")
        ax.scatter([p["best_step"]], [p["best-on-test"]], marker="*", s=160, color=colour,
                   edgecolors="black", zorder=3)
        ax.scatter([p["held_out_step"]], [p["held-out"]], marker="o", s=110, facecolors="none",
                   edgecolors=colour, linewidths=1.6, zorder=3)
        ax.scatter([c["step"][-1]], [p["last"]], marker="s", s=50, color=colour,
                   edgecolors="black", zorder=3)
    ax.set_xlabel("training step")
    ax.set_ylabel("L1 (lower is better)")
    ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    handles += [plt.Line2D([], [], marker=m, ls="none", color="grey", markerfacecolor=f,
                           markeredgecolor="black", markersize=s)
                for m, f, s in (("*", "grey", 12), ("o", "none", 9), ("s", "grey", 7))]
    labels += ["best-on-test picks", "held-out picks (its test value)", "last"]
    ax.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return fig
