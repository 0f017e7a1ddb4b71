"""Two-process DDP on CPU (gloo): the plain `train` call joins the process group and the loss falls."""

from __future__ import annotations

import os
import socket

import torch
import torch.multiprocessing as mp
from helpers import make_dataset, tiny_config

from mimicgait.engine.logging import read_log

STEPS = 16


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, data: str, run: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from mimicgait.engine.run import train

    config = tiny_config(f"train.iterations={STEPS}", "optim.milestones=[]", "optim.lr=0.05",
                         "train.checkpoint_every=0", "data.flip=0")
    train("teacher", config, data, run)


def test_two_process_gloo_training_lowers_the_loss(tmp_path):
    data = make_dataset(tmp_path / "data")
    run = tmp_path / "run"
    mp.spawn(_worker, args=(2, _free_port(), str(data), str(run)), nprocs=2, join=True)
    losses = [r["loss"] for r in read_log(run) if r["split"] == "train"]
    assert len(losses) == STEPS
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4
    assert (run / "model.pt").is_file() and not (run / "tensorboard").exists()


def _gather_worker(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist

    from mimicgait.engine.distributed import gather_across
    from mimicgait.losses import MiCKDLoss, PartTripletLoss

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    torch.manual_seed(0)
    student, teacher = torch.randn(8, 6, 4), torch.randn(8, 6, 4)  # the whole batch, the same on each rank
    labels = torch.arange(4).repeat_interleave(2)
    mine = slice(4 * rank, 4 * rank + 4)  # each rank holds two subjects of it
    local = student[mine].clone().requires_grad_(True)
    loss = MiCKDLoss(0.05)(gather_across(local), gather_across(teacher[mine]), gather_across(labels[mine]))[0]
    loss = loss + PartTripletLoss(0.2)(gather_across(local), gather_across(labels[mine]))[0]
    loss.backward()
    grads = [torch.empty(4, 6, 4) for _ in range(world)]
    dist.all_gather(grads, local.grad / world)  # what DDP's gradient averaging makes of it
    if rank == 0:
        torch.save({"loss": loss.detach(), "grad": torch.cat(grads)}, out)
    dist.destroy_process_group()


def test_gathered_losses_match_one_process_on_the_whole_batch(tmp_path):
    from mimicgait.losses import MiCKDLoss, PartTripletLoss

    out = tmp_path / "gathered.pt"
    mp.spawn(_gather_worker, args=(2, _free_port(), str(out)), nprocs=2, join=True)
    torch.manual_seed(0)
    student, teacher = torch.randn(8, 6, 4).requires_grad_(True), torch.randn(8, 6, 4)
    labels = torch.arange(4).repeat_interleave(2)
    loss = MiCKDLoss(0.05)(student, teacher, labels)[0] + PartTripletLoss(0.2)(student, labels)[0]
    loss.backward()
    got = torch.load(out, weights_only=True)
    torch.testing.assert_close(got["loss"], loss.detach())
    torch.testing.assert_close(got["grad"], student.grad)


# A distillation loss registered here alone: batch-wise, it records what each rank's call saw and logs
# how many rows that was (a registered loss returns (loss, logs); the mimic stage logs them as kd_<key>).
from mimicgait.losses import register_distillation  # noqa: E402


@register_distillation("recording")
class RecordingKD(torch.nn.Module):
    """MSE to the teacher that writes the labels it was given to RECORD_DIR/rank<r>-call<i>.pt and
    logs their number as 'rows'."""

    batch_wise = True

    def forward(self, student, teacher, labels):
        out = os.environ.get("RECORD_DIR")
        if out:
            self.calls = getattr(self, "calls", 0) + 1
            torch.save(labels.cpu(), os.path.join(out, f"rank{os.environ['RANK']}-call{self.calls}.pt"))
        return torch.nn.functional.mse_loss(student, teacher.detach()), {"rows": float(labels.numel())}


def _mimic_worker(rank: int, world: int, port: int, data: str, runs: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port), RECORD_DIR=os.path.join(runs, "seen"))
    torch.set_num_threads(1)
    from mimicgait.engine.run import train

    config = tiny_config("train.iterations=2", "train.checkpoint_every=0", "loss.kd=recording",
                         f"mimic.teacher={runs}/teacher", f"mimic.ven={runs}/ven")
    train("mimic", config, data, os.path.join(runs, "mimic"))


def test_a_registered_batch_wise_loss_sees_the_global_batch_under_ddp(tmp_path):
    from mimicgait.engine.run import train

    data = make_dataset(tmp_path / "data")
    train("teacher", tiny_config("train.iterations=2"), data, tmp_path / "teacher")
    train("ven", tiny_config("train.iterations=2"), data, tmp_path / "ven")
    (tmp_path / "seen").mkdir()
    try:
        mp.spawn(_mimic_worker, args=(2, _free_port(), str(data), str(tmp_path)), nprocs=2, join=True)
    finally:
        from mimicgait.losses import DISTILLATION_LOSSES

        DISTILLATION_LOSSES.pop("recording", None)
    seen = {f.name: torch.load(f, weights_only=True) for f in (tmp_path / "seen").iterdir()}
    calls = {r: sorted(name.split("-", 1)[1] for name in seen if name.startswith(f"rank{r}-"))
             for r in (0, 1)}
    assert calls[0] and calls[0] == calls[1], seen
    local = tiny_config()["data"]["ids_per_batch"] * tiny_config()["data"]["seqs_per_id"]
    for call in calls[0]:  # every rank's call got the same, gathered batch
        labels = [seen[f"rank{r}-{call}"] for r in (0, 1)]
        assert torch.equal(labels[0], labels[1]), (call, labels)
        assert labels[0].numel() in (local, 2 * local) and len(set(labels[0].tolist())) > 1, labels[0]
    rows = [r["kd_rows"] for r in read_log(tmp_path / "mimic") if r["split"] == "train"]
    assert rows and set(rows) == {float(seen[f"rank0-{calls[0][-1]}"].numel())}
