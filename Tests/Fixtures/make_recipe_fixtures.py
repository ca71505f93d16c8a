"""Reference trajectories for finetune's recipes, from the libraries that define them.

Run with Debian's python3-torch (1.13) and python3-sklearn (1.2), and timm 0.9.16
(`pip install --no-deps timm==0.9.16`):

    /usr/bin/python3 Tests/Fixtures/make_recipe_fixtures.py

Writes Tests/Fixtures/recipes_expected.json:
- `one_cycle`: torch.optim.lr_scheduler.OneCycleLR's learning rate and momentum at every
  step (SGD momentum, and Adam's beta1), for a few step counts and warm-up fractions;
- `ema`: timm.utils.ModelEmaV2's averaged weights of a tiny model after a few SGD steps
  (the weights before each update and after, so the test replays the same updates);
- `mixing`: timm.data.Mixup's mixed batch and targets for a given λ (mixup) and a given λ and
  box centre (CutMix), its random draws replaced by those values; images NHWC;
- `balance`: scikit-learn's `compute_class_weight("balanced")` of a label list, and the loss
  Keras's `class_weight` gives (the mean over the batch of weight × cross-entropy), computed
  by torch with its gradient with respect to the logits.
"""
import json
import os

import numpy as np
from sklearn.utils.class_weight import compute_class_weight
import torch
import timm.data.mixup as timm_mixup
from timm.data import Mixup
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

# Mixup and CutMix with fixed draws, a batch of 4 images 6x5 with 3 channels, 3 classes.
torch.manual_seed(1)
images = torch.randn(4, 3, 6, 5)
labels = torch.tensor([0, 2, 1, 2])
out["mixing"] = []
for cutmix, lam, centre in [(False, 0.7, None), (True, 0.6, (2, 1)), (True, 0.3, (5, 4))]:
    mixer = Mixup(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, num_classes=3)
    mixer._params_per_batch = lambda lam=lam, cutmix=cutmix: (lam, cutmix)
    if centre is not None:
        draws = iter(centre)
        timm_mixup.np.random.randint = lambda low, high, size=None: next(draws)
    x = images.clone()
    x_out, target = mixer(x, labels.clone())
    out["mixing"].append({
        "cutmix": cutmix, "lambda": lam, "centre": centre, "smoothing": 0.1,
        "shape": [4, 6, 5, 3], "labels": labels.tolist(),
        "images": images.permute(0, 2, 3, 1).flatten().tolist(),
        "mixed": x_out.permute(0, 2, 3, 1).flatten().tolist(),
        "targets": target.tolist(),
    })

# Balanced class weights and the weighted loss.
all_labels = [0] * 10 + [1] * 2 + [2] * 4
weights = compute_class_weight("balanced", classes=np.arange(3), y=np.array(all_labels))
logits = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.2, -0.3], [0.0, 0.0, 1.0], [-2.0, 1.0, 0.5], [0.3, 0.9, -1.2]],
                      requires_grad=True)
batch_labels = torch.tensor([0, 1, 2, 1, 0])
per_image = torch.nn.functional.cross_entropy(logits, batch_labels, reduction="none")
loss = (per_image * torch.tensor(weights, dtype=torch.float32)[batch_labels]).mean()
loss.backward()
out["balance"] = {"labels": all_labels, "weights": weights.tolist(), "logits": logits.detach().flatten().tolist(),
                  "batch_labels": batch_labels.tolist(), "loss": loss.item(),
                  "gradient": logits.grad.flatten().tolist()}

path = os.path.join(os.path.dirname(__file__), "recipes_expected.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", path)
