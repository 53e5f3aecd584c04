#!/usr/bin/python3
"""PyTorch's own draws, for Tests/Model/TorchGeneratorTests.cs: uniform_, randn (a multiple of 16 and a length with
a tail) and two randperms in a row, from known seeds. Run with Debian's python3-torch, forcing ATen's AVX2 kernels
(the ones Model/Core/TorchGenerator.cs reproduces; the scalar "default" randn differs from them in the last bits, and
a machine with AVX-512 would otherwise pick its own):

    ATEN_CPU_CAPABILITY=avx2 /usr/bin/python3 Tests/Data/make_torch_rng.py

Writes torch_rng.safetensors next to this script."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_debug_state import write_safetensors  # noqa: E402

assert os.environ.get("ATEN_CPU_CAPABILITY") == "avx2", "run with ATEN_CPU_CAPABILITY=avx2"

torch.manual_seed(7)                       # the global generator, as model init then training noise use it
uniform = torch.empty(300).uniform_(-0.3, 0.3)
randn = torch.randn(1000)                  # 1000 = 62·16 + 8: the tail is redrawn
randn16 = torch.randn(256, 32)             # a training batch's eps
small = torch.cat([torch.randn(5), torch.randn(3), torch.randn(2, 4).reshape(-1)])   # the serial path, its cached second normal
after_small = torch.randn(32)
g = torch.Generator().manual_seed(3)       # the shuffle generator: one randperm per epoch
perm1 = torch.randperm(1000, generator=g)
perm2 = torch.randperm(1000, generator=g)

write_safetensors(os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_rng.safetensors"), {
    "uniform": uniform, "randn": randn, "randn16": randn16.reshape(-1), "small": small, "after_small": after_small,
    "perm1": perm1.to(torch.float64), "perm2": perm2.to(torch.float64),
}, {"torch": torch.__version__, "capability": "avx2", "seeds": "manual_seed(7); Generator().manual_seed(3)"})
