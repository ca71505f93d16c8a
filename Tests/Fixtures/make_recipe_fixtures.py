"""Reference trajectories for finetune's recipes, from the libraries that define them.

Run with Debian's python3-torch (1.13) and timm 0.9.16 (`pip install --no-deps timm==0.9.16`):

    /usr/bin/python3 Tests/Fixtures/make_recipe_fixtures.py

Writes Tests/Fixtures/recipes_expected.json:
- `one_cycle`: torch.optim.lr_scheduler.OneCycleLR's learning rate and momentum at every
  step (SGD momentum, and Adam's beta1), for a few step counts and warm-up fractions;
- `ema`: timm.utils.ModelEmaV2's averaged weights of a tiny model after a few SGD steps
  (the weights before each update and after, so the test replays the same updates).
"""
import json
import os

import torch
from timm.utils import ModelEmaV2

out = {"one_cycle": [], "ema": {}}
for total, pct, optimizer in [(10, 0.3, "sgd"), (37, 0.3, "sgd"), (37, 0.25, "adam"), (5, 0.99, "sgd")]:
    w = torch.nn.Parameter(torch.zeros(1))
    opt = (torch.optim.SGD([w], lr=0.1, momentum=0.9) if optimizer == "sgd"
           else torch.optim.Adam([w], lr=0.1))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=total, pct_start=pct)
    rates, moms = [], []
    for _ in range(total):
        g = opt.param_groups[0]
        rates.append(g["lr"])
        moms.append(g["momentum"] if optimizer == "sgd" else g["betas"][0])
        opt.step()
        sched.step()
    out["one_cycle"].append({"steps": total, "pct_start": pct, "max_lr": 1e-3, "optimizer": optimizer,
                             "rates": rates, "momenta": moms})

# EMA: a 3-weight model, its weights set to a fixed sequence (standing for optimizer steps).
torch.manual_seed(0)
model = torch.nn.Linear(3, 1, bias=False)
initial = model.weight.flatten().tolist()  # ModelEmaV2 starts from a copy of the model as made
ema = ModelEmaV2(model, decay=0.9)
weights = []
for step in range(5):
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.5 * step, -1.0 + step, 2.0 - 0.25 * step]]))
    weights.append(model.weight.flatten().tolist())
    ema.update(model)
out["ema"] = {"decay": 0.9, "initial": initial, "weights": weights,
              "averaged": ema.module.weight.flatten().tolist()}

path = os.path.join(os.path.dirname(__file__), "recipes_expected.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", path)
