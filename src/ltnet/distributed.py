"""Training on several processes with PyTorch's own engine: torchrun and DistributedDataParallel.

``torchrun`` starts one process per device and tells each its place through the RANK,
WORLD_SIZE and LOCAL_RANK variables (its documented contract); :func:`from_torchrun` reads them and
joins the process group: NCCL on CUDA, gloo on CPU. A plain ``ltnet train`` is a group of one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    """This process's place in the group. ``rank`` 0 writes checkpoints and logs."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def from_torchrun(device: torch.device) -> tuple[Dist, torch.device]:
    """Join the group torchrun set up, if any; returns this process's place and its device.

    On CUDA each process takes the GPU of its LOCAL_RANK.
    """
    if "RANK" not in os.environ or int(os.environ.get("WORLD_SIZE", "1")) < 2:
        return Dist(), device
    rank, world, local = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Dist(rank, world, local), device


def shutdown(d: Dist) -> None:
    """Leave the process group, if this process joined one."""
    if d.active and dist.is_initialized():
        dist.destroy_process_group()


def broadcast(obj: Any, d: Dist) -> Any:
    """Rank 0's ``obj`` on every rank (pickled by torch.distributed; only between our own ranks)."""
    if not d.active:
        return obj
    box = [obj if d.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(d: Dist) -> None:
    """Wait until every rank gets here (nothing in a plain run)."""
    if d.active:
        dist.barrier()


def mean_over_ranks(values: dict[str, float], d: Dist, device: torch.device) -> dict[str, float]:
    """Each value averaged over the ranks (every rank passes the same keys)."""
    if not d.active:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return {k: float(v) / d.world_size for k, v in zip(keys, t.tolist(), strict=True)}


def gather_floats(value: float, d: Dist, device: torch.device) -> list[float]:
    """Every rank's ``value``, in rank order."""
    if not d.active:
        return [value]
    out = [torch.zeros((), dtype=torch.float64, device=device) for _ in range(d.world_size)]
    dist.all_gather(out, torch.tensor(value, dtype=torch.float64, device=device))
    return [float(t) for t in out]
