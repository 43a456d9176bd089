"""Sharded batch prediction: `torchrun --nproc_per_node=N -m segstudio predict ...` splits the images by rank.

Under torchrun (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE and the
rendezvous variables set; several machines work the same way), each rank
predicts every WORLD_SIZE-th image of the one sorted list that all ranks plan
identically, on its own GPU (cuda:LOCAL_RANK) when CUDA is there, else on the
CPU with its share of the cores as torch threads. The ranks write exactly the
files one process would write; they exchange only their counts, over gloo,
and rank 0 prints the combined summary. Without torchrun this is a no-op
(one shard holding everything).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Sequence, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Shard:
        from segstudio.nets.device import torchrun_place

        place = torchrun_place(env)
        return cls() if place is None else cls(*place)

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def take(self, items: Sequence[T]) -> list[T]:
        """This rank's share: every world-th item, starting at its rank (sizes differ by at most one)."""
        return list(items[self.rank::self.world])

    def device(self, requested: str) -> str:
        """The device for this rank: its own GPU under `auto`/`cuda`, else the CPU with its share of threads."""
        if not self.distributed:
            return requested
        import torch

        if requested in ("auto", "cuda") and torch.cuda.is_available():
            return f"cuda:{self.local_rank % torch.cuda.device_count()}"
        if requested in ("auto", "cpu"):
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // self.local_world))
            return "cpu"
        return requested  # an explicit cuda:N or mps is the user's choice

    def start(self) -> None:
        """Join the process group (gloo: only counts travel, on the CPU)."""
        if self.distributed:
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group("gloo", init_method="env://", rank=self.rank, world_size=self.world)

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()

    def combine(self, *counts: int) -> tuple[int, ...]:
        """The sums of `counts` over all ranks (every rank gets them)."""
        if not self.distributed:
            return tuple(counts)
        import torch.distributed as dist

        gathered: list = [None] * self.world
        dist.all_gather_object(gathered, list(counts))
        return tuple(sum(c[i] for c in gathered) for i in range(len(counts)))

    def close(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
