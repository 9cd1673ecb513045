"""Loading the small networks of the learned detectors from their shipped weights."""

from __future__ import annotations

import os


def load_net(net, path: str, *, what: str, command: str):
    """``net`` (a torch module) with the state_dict at ``path`` loaded, in eval mode and channels-last.

    ``what`` names the model in errors (``"weapon CNN"``), ``command`` the one that trains it.
    Raises ``FileNotFoundError`` naming the path when it is missing, ``ValueError`` when the
    weights do not fit the network."""
    import torch

    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} weights not found at {path!r}; train them with `{command}`")
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(f"{what} weights {path!r} do not fit this network (trained for another "
                         f"architecture?): {str(exc).splitlines()[0]}") from None
    net.eval()
    return net.to(memory_format=torch.channels_last)
