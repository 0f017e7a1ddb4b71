"""Two-process DDP on CPU (gloo): the plain `train` call joins the process group and the loss falls."""

from __future__ import annotations

import os
import socket

import torch
import torch.multiprocessing as mp
from test_engine_utils import make_dataset, tiny_config

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
