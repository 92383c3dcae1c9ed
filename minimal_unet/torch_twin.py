"""The same U-Net in PyTorch, with parameter names equal to `UNet.params`.

For users who outgrow minimal_unet (carry a trained net to PyTorch and back) and for the
test suite, which uses it as an independent oracle (torch.nn layers + autograd):

    from minimal_unet.torch_twin import build_torch_unet
    module = build_torch_unet(net.config, dtype=torch.float32)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()})
    net.load_state_dict({k: v.detach().numpy() for k, v in module.state_dict().items()})

PyTorch is not a dependency of minimal_unet (it is the `oracle` extra, torch==2.13.0); it
is imported only when `build_torch_unet` is called.
"""


def build_torch_unet(config, dtype=None, device=None):
    """A torch.nn.Module with the U-Net of `config` (fields as minimal_unet's UNetConfig).

    Parameter names: enc{i}.conv{1,2}, bottom.conv{1,2}, dec{i}.up, dec{i}.conv{1,2}, head
    (each with .weight and .bias), registered in that order (i descending for dec).
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    pad = 0 if config.padding == "valid" else 1

    def conv3x3(c_in, c_out):
        return nn.Conv2d(c_in, c_out, kernel_size=3, padding=pad)

    class Block(nn.Module):
        def __init__(self, c_in, c_out):
            super().__init__()
            self.conv1 = conv3x3(c_in, c_out)
            self.conv2 = conv3x3(c_out, c_out)

        def forward(self, x):
            return F.relu(self.conv2(F.relu(self.conv1(x))))

    class Up(nn.Module):
        def __init__(self, c_in, c_out):
            super().__init__()
            self.up = nn.ConvTranspose2d(c_in, c_out, kernel_size=2, stride=2)
            self.conv1 = conv3x3(2 * c_out, c_out)
            self.conv2 = conv3x3(c_out, c_out)

        def forward(self, x, skip):
            up = self.up(x)
            top = (skip.shape[2] - up.shape[2]) // 2
            left = (skip.shape[3] - up.shape[3]) // 2
            cropped = skip[:, :, top:top + up.shape[2], left:left + up.shape[3]]
            x = torch.cat([cropped, up], dim=1)  # skip first, then up
            return F.relu(self.conv2(F.relu(self.conv1(x))))

    class TorchUNet(nn.Module):
        def __init__(self):
            super().__init__()
            depth, base = config.depth, config.base_channels
            c_in = config.in_channels
            for i in range(depth):
                setattr(self, f"enc{i}", Block(c_in, base * 2**i))
                c_in = base * 2**i
            self.bottom = Block(c_in, base * 2**depth)
            for i in reversed(range(depth)):
                setattr(self, f"dec{i}", Up(base * 2 ** (i + 1), base * 2**i))
            self.head = nn.Conv2d(base, config.n_classes, kernel_size=1)

        def forward(self, x):
            skips = []
            for i in range(config.depth):
                x = getattr(self, f"enc{i}")(x)
                skips.append(x)
                x = F.max_pool2d(x, 2)
            x = self.bottom(x)
            x = F.dropout(x, config.dropout, self.training)
            for i in reversed(range(config.depth)):
                x = getattr(self, f"dec{i}")(x, skips[i])
            return self.head(x)

    return TorchUNet().to(dtype=dtype or torch.float64, device=device)
