"""Runtime plumbing shared by training, segmenting and reports: autocast, progress bars, run logs."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import torch

LOG_NAME = "log.jsonl"  # a run's per-step loss records, one JSON object a line


def autocast_context(device: torch.device, amp: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when asked; full precision elsewhere."""
    if amp and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def progress_steps(it: range, enabled: bool, desc: str = "train", **kw: Any):
    """``it`` with a tqdm bar of steps when ``enabled``."""
    if not enabled:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, desc=desc, unit="step", dynamic_ncols=True, **kw)


def read_log(run_dir: str | os.PathLike) -> list[dict[str, float]]:
    """The per-step loss records of a run."""
    path = Path(run_dir) / LOG_NAME
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
