"""fastai's learning-rate suggestions on recorded sweeps, for LearningRateSweepTests.swift:
fastai 2.7.12's own `valley`, `steep`, `minimum` and `slide` (fastai.callback.schedule) applied, as
`Learner.lr_find` applies them, to the window [num_it//10 : -5] of three sweeps of 100 steps from
1e-7 to 10 whose smoothed losses are written here (a typical dip then divergence, a noisy one, and
one that stopped early at 4 × the best loss).

Run: /usr/bin/python3 Tests/Fixtures/make_lr_find_fixtures.py
(Debian python3-torch python3-pandas python3-scipy; pip install --no-deps fastai==2.7.12
fastcore==1.5.29 fastprogress==1.0.3 fastdownload==0.0.7)
"""
import json, os

import numpy as np
import torch
from fastai.callback.schedule import SchedExp, minimum, slide, steep, valley

rng = np.random.default_rng(24)
num_it = 100
lrs = [SchedExp(1e-7, 10)(i / num_it) for i in range(num_it)]
log = np.log10(lrs)
curves = {
    "dip": 2.3 - 1.5 / (1 + np.exp(-(log + 3.5) * 2.5)) + np.exp((log - 0.2) * 3),
    "noisy": 2.3 - 1.2 / (1 + np.exp(-(log + 4) * 2)) + np.exp((log + 0.5) * 2) + rng.normal(0, 0.03, num_it),
    "stopped": (2.3 - 1.0 / (1 + np.exp(-(log + 5) * 2)) + np.exp((log + 1.5) * 4))[:72],
}
out = {}
for name, losses in curves.items():
    losses = [float(v) for v in losses.astype(np.float32)]
    window_lrs = torch.tensor(lrs[: len(losses)][num_it // 10: -5])
    window_losses = torch.tensor(losses[num_it // 10: -5])
    out[name] = {
        "rates": [float(v) for v in np.float32(lrs[: len(losses)])], "losses": losses, "steps": num_it,
        "valley": valley(window_lrs, window_losses, num_it)[0],
        "steep": steep(window_lrs, window_losses, num_it)[0],
        "minimum": minimum(window_lrs, window_losses, num_it)[0],
        "slide": slide(window_lrs, window_losses, num_it)[0],
    }
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "lr_find_expected.json"), "w") as f:
    json.dump(out, f, indent=1)
print({k: (v["valley"], v["steep"], v["minimum"], v["slide"]) for k, v in out.items()})
