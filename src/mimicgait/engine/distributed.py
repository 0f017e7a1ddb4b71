"""Optional data-parallel training: the same command runs plainly or under `torchrun`.

`torchrun --nproc_per_node=N mimicgait train ...` sets RANK / WORLD_SIZE / LOCAL_RANK; `setup`
then joins the process group (NCCL on CUDA, gloo on CPU). Run plainly, nothing here touches
torch.distributed, so a single process needs no process group and no CUDA. Only the trainable
module is wrapped in DDP (for mimic: student + mixer; the frozen teacher and VEN stay outside).
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import Tensor, nn

from mimicgait.errors import UserError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


#: Seconds a collective waits for the other ranks unless train.dist_timeout_s says otherwise.
DEFAULT_TIMEOUT_S = 1800.0


def setup(device: str = "auto", timeout_s: float | None = None) -> tuple[DistInfo, torch.device]:
    """Join the process group when launched by torchrun; pick this process's device.

    device: 'auto' (CUDA if available, else CPU), 'cpu', 'cuda' or 'cuda:K'. Under torchrun with
    CUDA each process takes GPU LOCAL_RANK. `timeout_s` bounds how long a collective waits for the
    other ranks (default `DEFAULT_TIMEOUT_S`): a stopped or hung rank then ends the job with an
    error instead of blocking the others forever.
    """
    wants_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if wants_cuda and not torch.cuda.is_available():
        raise UserError(f"train.device={device} but CUDA is not available; use --set train.device=cpu")
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) == 1:
        return DistInfo(), torch.device(device if device != "auto" else ("cuda" if wants_cuda else "cpu"))
    info = DistInfo(
        int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0))
    )
    if wants_cuda:
        torch.cuda.set_device(info.local_rank)
        chosen = torch.device("cuda", info.local_rank)
    else:
        chosen = torch.device("cpu")
    if not dist.is_initialized():
        timeout = timedelta(seconds=float(timeout_s or DEFAULT_TIMEOUT_S))
        dist.init_process_group("nccl" if wants_cuda else "gloo", timeout=timeout)
    return info, chosen


def wrap(module: nn.Module, info: DistInfo, device: torch.device) -> nn.Module:
    """DDP around the trainable module when distributed, the module itself otherwise."""
    if not info.enabled:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def mean_across(values: dict[str, float], info: DistInfo, device: torch.device) -> dict[str, float]:
    """Average logged scalars over ranks (a no-op in a single process)."""
    if not info.enabled or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    t /= info.world_size
    return dict(zip(keys, t.tolist(), strict=True))


class _GatherAcross(torch.autograd.Function):
    """all_gather forward; backward sums the gradient over ranks (each rank computed the same loss
    on the gathered batch) and keeps this rank's slice."""

    @staticmethod
    def forward(ctx, t: Tensor) -> Tensor:
        world, rank = dist.get_world_size(), dist.get_rank()
        ctx.rows, ctx.rank = t.shape[0], rank
        parts = [torch.empty_like(t) for _ in range(world)]
        dist.all_gather(parts, t.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows]


def gather_across(t: Tensor) -> Tensor:
    """Concatenate `t` [n, ...] from every rank in rank order -> [world * n, ...]; `t` itself in a
    single process. Differentiable: with the gradient averaging of DDP, a loss over the gathered
    batch (triplet, MiCKD: anchors need the other ranks' positives and negatives) gets exactly the
    gradient it would have in one process on the whole batch. Every rank must hold as many rows."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return t
    if t.requires_grad:
        return _GatherAcross.apply(t)
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def cleanup(info: DistInfo) -> None:
    """Leave the process group. Garbage (a finished trainer's DDP module in a reference cycle, with
    its reducer and the gloo work it holds) is collected first, while the interpreter is whole: freed
    at interpreter shutdown instead, gloo's threads can outlive it and abort the process (SIGABRT,
    "terminate called without an active exception"), as a 2-process test did now and then."""
    if info.enabled and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()
