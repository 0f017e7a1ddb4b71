"""Run logs: a JSON-lines file (RUN_DIR/log.jsonl) and TensorBoard scalars when available.

Every record is one JSON object per line ({'iteration', 'time', 'split', metrics...}), appended,
so a resumed run continues the same file and a crash loses at most the line being written.
TensorBoard is optional: when `torch.utils.tensorboard` cannot be imported, only the JSON log is kept.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class RunLogger:
    """Writes scalars to log.jsonl and, if importable, to TensorBoard event files in the run directory."""

    def __init__(self, run_dir: str | Path, tensorboard: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / "log.jsonl"
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115  (kept open for the run)
        self._writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._writer = SummaryWriter(log_dir=str(self.run_dir / "tensorboard"))
            except Exception as err:  # tensorboard not installed or broken: JSON log only
                log.info("TensorBoard logging off (%s)", err)

    def write(self, iteration: int, split: str, values: dict[str, Any]) -> None:
        """Append one record; numbers also go to TensorBoard as `split/name`."""
        record = {"iteration": int(iteration), "time": round(time.time(), 3), "split": split}
        for key, value in values.items():
            record[key] = None if isinstance(value, float) and not math.isfinite(value) else value
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._writer is not None:
            for key, value in values.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._writer.add_scalar(f"{split}/{key}", value, iteration)

    def close(self) -> None:
        self._file.close()
        if self._writer is not None:
            self._writer.close()


def read_log(run_dir: str | Path) -> list[dict[str, Any]]:
    """Records of RUN_DIR/log.jsonl, in order."""
    path = Path(run_dir) / "log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
