"""What every trainer of :mod:`train` shares: progress bars, model cards, weights written atomically."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager


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


@contextmanager
def torch_threads(n: int):
    """torch on ``n`` threads inside the block, its previous thread count restored after (errors included)."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def run_epochs(net, epochs: int, one_epoch, *, progress: bool, label: str) -> tuple[list[float], dict]:
    """Train ``net`` for ``epochs`` passes: ``one_epoch()`` makes one (``net`` in training mode) and returns
    its summed loss and sample count; a bar shows each pass's mean loss. Returns the per-pass mean
    losses and a copy of the trained state_dict, ``net`` left in eval mode."""
    losses = []
    bar = progress_bar(epochs, progress, label)
    for _ in range(epochs):
        net.train()
        total, count = one_epoch()
        losses.append(total / max(1, count))
        if bar is not None:
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            bar.update(1)
    if bar is not None:
        bar.close()
    net.eval()
    return losses, {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}
