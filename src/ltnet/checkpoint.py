"""Self-describing checkpoints: config, weights, optimiser state, step and atlas, in plain tensors
and containers, loaded with ``torch.load(weights_only=True)`` so a file cannot run code."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch

from ltnet import __version__
from ltnet.config import TrainConfig
from ltnet.errors import LtnetError
from ltnet.io.atomic import atomic_path

FORMAT = "ltnet-checkpoint"
FORMAT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"
REQUIRED = ("config", "step", "model", "atlas")


def _on_cpu(obj: Any) -> Any:
    """``obj`` with every tensor inside it (dicts, lists, tuples) moved to the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _on_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_on_cpu(v) for v in obj)
    return obj


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` (plus format tags) atomically. Tensors are stored on the CPU, so that a run
    trained on a GPU loads with a plain ``torch.load`` on a machine without one."""
    path = Path(path)
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "ltnet_version": __version__}
    payload.update(_on_cpu(state))
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint onto the CPU; refuse files that are not ltnet checkpoints or carry code."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.exists():
        raise LtnetError(f"{path}: no checkpoint here (is this a run folder written by 'ltnet train'?)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).splitlines()[0] if str(e) else ""
        raise LtnetError(f"{path}: refused: not a plain-weights ltnet checkpoint ({first[:200]})") from None
    except Exception as e:
        raise LtnetError(f"{path}: cannot read checkpoint ({type(e).__name__}: {str(e)[:200]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise LtnetError(f"{path}: not an ltnet checkpoint")
    if state.get("format_version") != FORMAT_VERSION:
        raise LtnetError(
            f"{path}: checkpoint format {state.get('format_version')} (ltnet {state.get('ltnet_version')}) "
            f"is not readable by ltnet {__version__}, which reads format {FORMAT_VERSION}"
        )
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        raise LtnetError(f"{path}: checkpoint lacks {', '.join(missing)}")
    return state


def checkpoint_config(state: dict[str, Any], path: str | os.PathLike) -> TrainConfig:
    """The training configuration saved in a checkpoint; an error names the checkpoint."""
    try:
        return TrainConfig.from_dict(state["config"])
    except (LtnetError, TypeError, ValueError) as e:
        raise LtnetError(f"{path}: {e}") from None


def generator_state(state: dict[str, Any]) -> dict[str, Any]:
    """The generators' weights to use from a checkpoint: the moving average when the run kept one
    (``TrainConfig.ema_decay``), else the last step's."""
    ema = state.get("model_ema")
    return ema if ema is not None else state["model"]
