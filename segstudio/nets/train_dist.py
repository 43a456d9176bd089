"""Distributed training context: one process per device under `torchrun`.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; then the trainer joins a process
group (NCCL on CUDA, gloo on CPU), wraps the model in DistributedDataParallel
and shards the data. Without those variables everything here is a no-op and
the world has one process.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist

from .device import pick_device, torchrun_place


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    initialised: bool = False

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.distributed:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def any_flags(self, *flags: bool) -> tuple[bool, ...]:
        """Each flag OR-ed over all ranks, in one collective call."""
        if not self.distributed:
            return tuple(bool(f) for f in flags)
        t = torch.tensor([1.0 if f else 0.0 for f in flags], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return tuple(bool(v > 0) for v in t.tolist())

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def close(self) -> None:
        if self.initialised and dist.is_initialized():
            dist.destroy_process_group()
            self.initialised = False


def setup(device: str = "auto") -> DistContext:
    """The process's place in the run; joins the process group under torchrun."""
    place = torchrun_place()
    if place is None:
        return DistContext(device=pick_device(device))
    rank, world, local, _ = place
    dev = pick_device(device, local)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return DistContext(rank=rank, world_size=world, local_rank=local, device=dev, initialised=True)
