"""What every trainer of :mod:`train` shares: progress bars, model cards, weights written atomically."""

from __future__ import annotations

import json
import os


def write_json(path: str, data: dict) -> None:
    """``data`` as sorted, indented JSON at ``path``, atomically."""
    from detectors.files import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def progress_bar(total: int, progress: bool, label: str):
    """A tqdm bar of ``total`` steps (hidden when stderr is not a terminal), or None when ``progress`` is off."""
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=label, leave=False, disable=None)


def weights_sha256(path: str) -> str:
    """SHA-256 of a weights file (the model card records it, so a card cannot describe other weights)."""
    import hashlib

    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def save_weights(state_dict: dict, path: str, card: dict, *, with_sha256: bool = False) -> str:
    """Write ``state_dict`` to ``path`` and its model card (``card`` plus the parameter count, the file's
    size and, with ``with_sha256``, its checksum) next to it as ``.json``; both atomically. Returns the card's path."""
    import torch

    from detectors.files import atomic_path

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(state_dict, tmp)
    meta = os.path.splitext(path)[0] + ".json"
    params = sum(int(v.numel()) for k, v in state_dict.items() if not k.endswith("num_batches_tracked"))
    figures = {"parameters": params, "weights_bytes": os.path.getsize(path)}
    if with_sha256:
        figures["weights_sha256"] = weights_sha256(path)
    write_json(meta, {**card, **figures})
    return meta
