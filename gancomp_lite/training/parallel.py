"""Data-parallel training over several processes, one per GPU, started by ``torchrun``.

``torchrun --nproc_per_node=K -m gancomp_lite train|distill|distill-online|train-supernet ...``
starts K copies of
the command; each finds its rank in the environment (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, set by ``torchrun``) and :func:`init_from_env` joins them in one
process group (NCCL on CUDA, gloo on the CPU).  :class:`~.loop.Trainer` then:

* gives every process its share of each global batch: the batch of a step is the
  same seeded draw as in one process, and rank ``r`` takes its ``r``-th equal slice
  (a distributed sampler, fixed by the seed and the step); ``--batch-size`` stays
  the *global* batch and must divide by the number of processes;
* averages each optimizer group's gradients over the processes after its backward
  pass (:func:`average_gradients`), so every process takes the same Adam step;
* averages the logged losses, so the history is the one-process history;
* writes checkpoints, records and the progress bar on rank 0 only (:func:`is_main`).

The papers' losses are means over the batch, so the averaged gradient is the
gradient of the whole global batch, and a K-process run follows the one-process run
with the same global batch to float rounding (tested with two gloo processes), for
every objective without per-process state.  CycleGAN's image pools are such state:
each process keeps a pool of its own share of the fakes, and a resumed run gives
every process rank 0's pool, so a CycleGAN run is data-parallel but not equal to the
one-process run, and its resume is not exact.

Deviation from PyTorch's ``DistributedDataParallel`` wrapper: the gradients are
averaged after each group's backward pass, as one flat all-reduce per group, instead
of in buckets overlapped with the backward pass.  The loop updates its optimizer
groups one after another with the other groups frozen (pix2pix: D, then G), which
the wrapper's hooks do not follow without ``find_unused_parameters``; the price is
that communication is not hidden behind computation.  BatchNorm layers normalise each
process's share of the batch (as the wrapper does without ``SyncBatchNorm``); the
papers' generators and discriminators use InstanceNorm, which is per image.

Explained in the book's page ``book/gpu`` (reproducing the papers on a GPU).
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist

from ..errors import GancompError

#: the verbs that run data-parallel under ``torchrun``; any other refuses it
VERBS = ("train", "distill", "distill-online", "train-supernet")


def launched() -> bool:
    """Whether this process was started by ``torchrun`` with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(verb: str, device=None) -> None:
    """Join the process group ``torchrun`` described in the environment
    (NCCL where CUDA is available and ``device`` is not the CPU, else gloo; on
    CUDA each process takes the GPU of its ``LOCAL_RANK``).  A verb that cannot
    run data-parallel is one clear error."""
    if verb not in VERBS:
        raise GancompError(f"`{verb}` does not run data-parallel: under torchrun only "
                           f"{', '.join(VERBS)} do (start `{verb}` as one process)")
    if dist.is_initialized():
        return
    missing = [k for k in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise GancompError(f"WORLD_SIZE={os.environ['WORLD_SIZE']} but {', '.join(missing)} "
                           f"not set: start data-parallel runs with torchrun")
    on_cpu = device is not None and torch.device(device).type == "cpu"
    if torch.cuda.is_available() and not on_cpu:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")


def rank_and_size() -> tuple[int, int]:
    """``(rank, number of processes)``: ``(0, 1)`` outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """Whether this process writes files and logs (rank 0, or the only process)."""
    return rank_and_size()[0] == 0


def barrier() -> None:
    """Wait for every process (nothing outside a process group)."""
    if rank_and_size()[1] > 1:
        dist.barrier()


def shard(indices: list[int], rank: int, size: int) -> list[int]:
    """Rank ``rank``'s equal, contiguous slice of one global batch."""
    if len(indices) % size:
        raise GancompError(f"a global batch of {len(indices)} does not divide among {size} "
                           f"processes: choose a batch size that is a multiple of {size}")
    per = len(indices) // size
    return indices[rank * per:(rank + 1) * per]


def broadcast_module(module: torch.nn.Module) -> None:
    """Give every process rank 0's parameters and buffers."""
    if rank_and_size()[1] == 1:
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)


def average_gradients(params) -> None:
    """Average the gradients of ``params`` over the processes (one flat all-reduce)."""
    size = rank_and_size()[1]
    if size == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= size
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def average_values(values: dict[str, float], device) -> dict[str, float]:
    """The mean of each logged number over the processes."""
    size = rank_and_size()[1]
    if size == 1 or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return {k: float(v) / size for k, v in zip(keys, t.tolist())}
