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


def fuse_batchnorm(net):
    """An inference copy of a ``torch.nn.Sequential`` in eval mode in which every ``Conv2d`` directly
    followed by a ``BatchNorm2d`` carries the normalisation in its weights and bias (the batch norm
    becomes an identity): the same function up to float rounding (about 1e-7 on a probability), one
    pass over each feature map fewer (a third of the weapon CNN's time on a batch of crops).
    Channels-last, like :func:`load_net`. The network given is left as it is (training reads it)."""
    import copy

    import torch
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    if net.training:
        raise ValueError("fuse_batchnorm: the network must be in eval mode (its batch statistics are frozen)")
    layers = list(copy.deepcopy(net).to(memory_format=torch.contiguous_format))
    for i in range(len(layers) - 1):
        if isinstance(layers[i], nn.Conv2d) and isinstance(layers[i + 1], nn.BatchNorm2d):
            layers[i], layers[i + 1] = fuse_conv_bn_eval(layers[i], layers[i + 1]), nn.Identity()
    return nn.Sequential(*layers).eval().to(memory_format=torch.channels_last)




def flat_forward(net):
    """A function computing an eval-mode ``torch.nn.Sequential`` with the functional operations of its layers
    called directly (convolution, ReLU, max-pooling, linear; identities and eval-mode dropout left out; any
    other layer called as a module): the same operations on the same weights, so the same floats, without the
    Python dispatch of each module's ``__call__`` (about a tenth of the weapon CNN's time on the one to eight
    crops of a frame). The weights are those of ``net`` when this is called (detached; later changes to
    ``net`` are not seen)."""
    import torch.nn.functional as F
    from torch import nn

    if net.training:
        raise ValueError("flat_forward: the network must be in eval mode")
    steps = []
    for layer in net:
        if isinstance(layer, (nn.Identity, nn.Dropout)):
            continue
        if type(layer) is nn.Conv2d and layer.padding_mode == "zeros":
            w, b = layer.weight.detach(), None if layer.bias is None else layer.bias.detach()
            args = (layer.stride, layer.padding, layer.dilation, layer.groups)
            steps.append(lambda x, w=w, b=b, a=args: F.conv2d(x, w, b, *a))
        elif type(layer) is nn.ReLU:
            steps.append(lambda x, inplace=layer.inplace: F.relu(x, inplace=inplace))
        elif type(layer) is nn.MaxPool2d:
            args = (layer.kernel_size, layer.stride, layer.padding, layer.dilation, layer.ceil_mode)
            steps.append(lambda x, a=args: F.max_pool2d(x, *a))
        elif type(layer) is nn.Linear:
            w, b = layer.weight.detach(), None if layer.bias is None else layer.bias.detach()
            steps.append(lambda x, w=w, b=b: F.linear(x, w, b))
        else:
            steps.append(layer)

    def forward(x):
        for step in steps:
            x = step(x)
        return x

    return forward
