"""One training loop for every objective of the book.

:class:`Trainer` runs any :class:`~gancomp_lite.training.objectives.Objective`
on any dataset of :mod:`gancomp_lite.data`:

* Adam (lr 2e-4, betas 0.5/0.999) per optimizer group, and the papers'
  schedule: constant learning rate, then linear decay to zero
  (:func:`linear_decay`);
* batches from a seeded permutation per epoch, so the data order depends only
  on the seed and the step;
* checkpoints with everything needed to resume (networks, optimizers,
  schedulers, step, loss history, image pools, RNG states): on the CPU a run
  stopped and resumed ends with exactly the weights of an uninterrupted run;
* a tqdm progress bar and a loss history a notebook can plot;
* mixed precision (``amp``): the forward passes and losses under
  ``torch.autocast`` in bfloat16 or float16, the weights and optimizer in
  float32; float16 scales the losses (``torch.amp.GradScaler``, its state in
  the checkpoint) so that small gradients do not underflow;
* channels-last memory (``channels_last``) for the networks and batches, which
  GPUs' convolution kernels prefer;
* data-parallel training over processes started by ``torchrun``
  (:mod:`.parallel`): each process takes its share of every global batch, the
  gradients are averaged, rank 0 writes the checkpoints and the progress bar.

Explained in chapter ``nb/03_teachers`` (section ``sec-teachers-loop``).
"""
from __future__ import annotations

import random
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate
from ..progress import tqdm

from ..config import get_device
from ..errors import CheckpointError
from .objectives import Objective

CHECKPOINT_FORMAT = "gancomp-lite/train-checkpoint/1"
#: mixed-precision modes of :class:`Trainer` (``amp``) and their autocast dtypes
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def linear_decay(total_steps: int, decay_steps: int | None = None) -> Callable[[int], float]:
    """Learning-rate factor: 1 for the first ``total - decay`` steps, then a
    linear ramp down by ``1/(decay+1)`` per step (default: decay over the
    second half, as the papers' ``nepochs`` + ``nepochs_decay`` with equal
    halves).  Like the official ``1 - max(0, e+1-nepochs)/(nepochs_decay+1)``,
    it never reaches 0 inside the run: the last step (``total_steps - 1``)
    trains at ``lr/(decay+1)``; 0 would come one step after the end."""
    decay = total_steps // 2 if decay_steps is None else decay_steps
    if not 0 <= decay <= total_steps:
        raise ValueError(f"decay_steps must be in [0, {total_steps}], got {decay}")
    constant = total_steps - decay

    def factor(step: int) -> float:
        if step < constant or decay == 0:
            return 1.0
        return max(0.0, 1.0 - (step - constant + 1) / (decay + 1))

    return factor


def epoch_schedule(epochs: int, decay_epochs: int, n_items: int, batch_size: int) -> tuple[int, int]:
    """``(steps, decay_steps)`` of a schedule given in epochs, as the papers' scripts
    give it (constant for ``epochs - decay_epochs`` epochs, then decaying): an epoch is
    ``ceil(n_items / batch_size)`` steps, as the official loaders keep the last
    partial batch.  The package's loop drops that batch and draws a new order
    instead, so the same steps see slightly more data than the official epochs."""
    if n_items < 1:
        from ..errors import GancompError

        raise GancompError(f"a dataset needs at least one item, got {n_items}")
    per_epoch = -(-n_items // batch_size)
    return epochs * per_epoch, decay_epochs * per_epoch


def run_schedule(steps: int | None, epochs: tuple[int, int] | None, n_items: int,
                 batch_size: int) -> tuple[int, int | None]:
    """``(steps, decay_steps)`` of a training verb: ``steps`` as given and no
    decay when ``epochs`` is ``None``; else ``epochs`` ``(total, decaying)``
    on ``n_items`` (:func:`epoch_schedule`) set the steps when ``steps`` is
    ``None``, and only the decay's share of explicit ``steps`` otherwise.  Neither is one
    clear error."""
    if steps is None and epochs is None:
        from ..errors import GancompError

        raise GancompError("give the number of steps (--steps), or a paper preset whose epochs "
                           "set it (--paper-preset)")
    if epochs is None:
        return steps, None
    preset_steps, decay_steps = epoch_schedule(*epochs, n_items, batch_size)
    if steps is None:
        return preset_steps, decay_steps
    return steps, round(steps * decay_steps / preset_steps)


def schedule_record(paper_preset: str | None, epochs: tuple[int, int] | None,
                    decay_steps: int | None) -> dict:
    """What a run's ``recipe.json`` records of a paper preset's schedule (nothing without one)."""
    return ({"paper_preset": paper_preset} if paper_preset else {}) | (
        {"epochs": list(epochs), "decay_steps": decay_steps} if epochs else {})


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
             "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextmanager
def run_folder(out: str | Path) -> Iterator[Path]:
    """The output folder of a training run, created if missing.

    If the block fails before the run has a checkpoint (a bad argument found
    late, an interrupt in the first steps), everything it added is removed
    again, and the folder too if it was created here, so nothing half-written
    blocks the next attempt.  A run that has a checkpoint keeps it: it can be
    continued (``--resume``).
    """
    out = Path(out)
    created = not out.exists()
    before = set(out.iterdir()) if out.is_dir() else set()
    out.mkdir(parents=True, exist_ok=True)
    try:
        yield out
    except BaseException:
        if not (out / "checkpoint.pt").exists():
            for p in set(out.iterdir()) - before:
                shutil.rmtree(p) if p.is_dir() else p.unlink()
            if created and not any(out.iterdir()):
                out.rmdir()
        raise


class Trainer:
    """Train ``objective`` on ``dataset`` for ``total_steps`` steps.

    Step order: one ``objective.forward_step`` per step, then the optimizer
    groups are updated one after another in ``objective.update_order``, each
    group's loss computed after the previous group has stepped.  So pix2pix
    (``("D", "G")``) scores the generator's GAN term with the discriminator
    *after* its update, as the original pix2pix code does, whereas GAN
    Compression's distiller computes both losses with the same discriminator
    and then steps both (the package's distiller, run by this loop with
    ``("D", "G")``, deviates from it there).

    Args:
        objective: the networks and losses (see :mod:`.objectives`).
        dataset: a dataset of :mod:`gancomp_lite.data` (items are dicts).
        total_steps: length of the whole run; fixes the lr schedule.
        batch_size: images per step.
        lr, betas: Adam settings (the papers': 2e-4, (0.5, 0.999)).
        decay_steps: steps of linear decay at the end (default: half).
        seed: seeds the data order, the initial RNG state and image pools.
        device: default: the best available.
        progress: show a tqdm bar.
        amp: ``None`` (float32), ``"bf16"`` or ``"fp16"`` (mixed precision;
            ``fp16`` with loss scaling).
        channels_last: keep the networks and batches in channels-last memory.

    Inside a process group (``torchrun``, :mod:`.parallel`), ``batch_size`` is
    the global batch, divided among the processes.
    """

    def __init__(self, objective: Objective, dataset: Dataset, total_steps: int,
                 batch_size: int = 1, lr: float = 2e-4, betas=(0.5, 0.999),
                 decay_steps: int | None = None, seed: int = 0, device=None,
                 progress: bool = True, amp: str | None = None, channels_last: bool = False):
        from . import parallel

        if total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps}")
        if amp is not None and amp not in AMP_DTYPES:
            from ..errors import GancompError

            raise GancompError(f"unknown mixed precision {amp!r}: expected one of "
                               f"{', '.join(AMP_DTYPES)} (or none for float32)")
        if len(dataset) < batch_size:
            from ..errors import DatasetSizeError

            raise DatasetSizeError(f"the dataset has {len(dataset)} items, fewer than one batch "
                                   f"of {batch_size}")
        self.objective = objective
        self.dataset = dataset
        self.total_steps = total_steps
        self.batch_size = batch_size
        self.seed = seed
        self.rank, self.world_size = parallel.rank_and_size()
        parallel.shard(list(range(batch_size)), 0, self.world_size)   # the batch must divide
        self.progress = progress and self.rank == 0
        self.device = torch.device(device) if device is not None else get_device()
        self.objective.to(self.device)
        self.channels_last = channels_last
        if channels_last:
            self.objective.to(memory_format=torch.channels_last)
        parallel.broadcast_module(self.objective)    # every process starts from rank 0's weights
        self.settings = dict(total_steps=total_steps, batch_size=batch_size, lr=lr,
                             betas=list(betas), decay_steps=decay_steps, seed=seed)
        # recorded only when used: float32, one-process checkpoints stay as they were
        if amp is not None:
            self.settings["amp"] = amp
        if channels_last:
            self.settings["channels_last"] = True
        if self.world_size > 1:
            self.settings["processes"] = self.world_size
        self.amp = amp
        self.scaler = (torch.amp.GradScaler(self.device.type) if amp == "fp16" else None)
        factor = linear_decay(total_steps, decay_steps)
        self.optimizers = {g: torch.optim.Adam(objective.parameters_of(g), lr=lr, betas=tuple(betas))
                           for g in objective.groups()}
        self.schedulers = {g: torch.optim.lr_scheduler.LambdaLR(opt, factor)
                           for g, opt in self.optimizers.items()}
        self.step = 0
        self.history: list[dict] = []
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)

    def recorded_options(self) -> dict:
        """The speed and process options a run record names (only those used)."""
        return {k: self.settings[k] for k in ("amp", "channels_last", "processes")
                if k in self.settings}

    # -- data -----------------------------------------------------------
    @property
    def steps_per_epoch(self) -> int:
        return len(self.dataset) // self.batch_size

    def batch_at(self, step: int) -> dict:
        """The batch of global step ``step`` (a function of seed and step only);
        in a process group, this process's slice of it."""
        epoch, offset = divmod(step, self.steps_per_epoch)
        gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        order = torch.randperm(len(self.dataset), generator=gen)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        idx = order[offset * self.batch_size:(offset + 1) * self.batch_size].tolist()
        if self.world_size > 1:
            from .parallel import shard

            idx = shard(idx, self.rank, self.world_size)
        batch = default_collate([self.dataset[i] for i in idx])
        return {k: self._placed(v) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}

    def _placed(self, t: torch.Tensor) -> torch.Tensor:
        t = t.to(self.device)
        if self.channels_last and t.dim() == 4:
            t = t.contiguous(memory_format=torch.channels_last)
        return t

    # -- training -------------------------------------------------------
    def _set_trainable(self, group: str | None) -> None:
        for g, opt in self.optimizers.items():   # each optimizer holds its group's parameters
            for pg in opt.param_groups:
                for p in pg["params"]:
                    p.requires_grad_(group is None or g == group)

    def _autocast(self):
        """The forward passes' precision: autocast for ``amp``, else nothing."""
        if self.amp is None:
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast(self.device.type, dtype=AMP_DTYPES[self.amp])

    def train_step(self) -> dict:
        from .parallel import average_gradients, average_values

        obj = self.objective
        obj.train()
        self._set_trainable(None)
        with self._autocast():
            ctx = obj.forward_step(self.batch_at(self.step))
        record = {"step": self.step}
        for group in obj.groups():
            self._set_trainable(group)
            opt = self.optimizers[group]
            opt.zero_grad(set_to_none=True)
            with self._autocast():
                loss, parts = obj.group_loss(group, ctx)
            params = [p for pg in opt.param_groups for p in pg["params"]]
            if self.scaler is not None:
                self.scaler.scale(loss.float()).backward()
                average_gradients(params)
                self.scaler.step(opt)         # skipped when the scaled gradients overflowed
            else:
                loss.float().backward()
                average_gradients(params)
                opt.step()
            record.update(average_values(parts, self.device))
        if self.scaler is not None:
            self.scaler.update()
        self._set_trainable(None)
        record["lr"] = self.optimizers[obj.groups()[0]].param_groups[0]["lr"]
        with warnings.catch_warnings():
            # a step the fp16 scaler skipped (overflow) makes torch warn that the schedule
            # ran before the optimizer: expected with loss scaling, and the schedule is by step
            warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step",
                                    category=UserWarning)
            for sched in self.schedulers.values():
                sched.step()
        self.step += 1
        self.history.append(record)
        return record

    def fit(self, until: int | None = None, checkpoint: str | Path | None = None,
            checkpoint_every: int | None = None) -> list[dict]:
        """Train to step ``until`` (default: the end); save ``checkpoint``
        every ``checkpoint_every`` steps and at the end.  Returns the history."""
        until = self.total_steps if until is None else min(until, self.total_steps)
        bar = tqdm(total=until, initial=self.step, desc="train", disable=not self.progress,
                   dynamic_ncols=True, leave=False)
        while self.step < until:
            rec = self.train_step()
            bar.update(1)
            if self.step % 10 == 0 or self.step == until:
                bar.set_postfix({k.split("/")[0] + "_loss": round(v, 3)
                                 for k, v in rec.items() if k.endswith("/total")})
            if checkpoint and checkpoint_every and self.step % checkpoint_every == 0:
                self.save(checkpoint)
        bar.close()
        if checkpoint:
            self.save(checkpoint)
        return self.history

    # -- checkpoints ----------------------------------------------------
    def state_dict(self) -> dict:
        return {"format": CHECKPOINT_FORMAT, "step": self.step, "settings": self.settings,
                "networks": self.objective.describe(),
                "objective": self.objective.state_dict(),
                "objective_extra": self.objective.extra_state(),
                "optimizers": {g: o.state_dict() for g, o in self.optimizers.items()},
                "schedulers": {g: s.state_dict() for g, s in self.schedulers.items()},
                "history": self.history, "rng": _rng_state(),
                **({"scaler": self.scaler.state_dict()} if self.scaler is not None else {})}

    def save(self, path: str | Path) -> Path:
        """Write a resumable checkpoint (atomically: a crash never leaves half a
        file); in a process group rank 0 writes it and every process waits for it."""
        from .parallel import barrier

        path = Path(path)
        if self.rank == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".tmp")
            torch.save(self.state_dict(), tmp)
            tmp.replace(path)
        barrier()
        return path

    def load(self, path: str | Path) -> "Trainer":
        """Resume from a checkpoint written by :meth:`save` for the same setup."""
        from ..shipped import read_torch_file

        path = Path(path)
        state = read_torch_file(path, weights_only=False, map_location=self.device)
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{path} is not a gancomp-lite training checkpoint")
        if state["networks"] != self.objective.describe():
            raise CheckpointError(
                f"{path} was written for other networks: {state['networks']} "
                f"vs {self.objective.describe()}")
        for key in ("total_steps", "batch_size", "seed", "amp", "channels_last"):
            if state["settings"].get(key) != self.settings.get(key):
                raise CheckpointError(
                    f"{path} was written with {key}={state['settings'].get(key)}, "
                    f"this run has {key}={self.settings.get(key)}")
        try:
            self.objective.load_state_dict(state["objective"])
        except RuntimeError as err:
            raise CheckpointError(f"{path} does not fit these networks: {err}") from err
        self.objective.load_extra_state(state["objective_extra"])
        for g, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][g])
        for g, sched in self.schedulers.items():
            sched.load_state_dict(state["schedulers"][g])
        if self.scaler is not None:
            self.scaler.load_state_dict(state["scaler"])
        self.step = state["step"]
        self.history = list(state["history"])
        _set_rng_state(state["rng"])
        return self
