#!/usr/bin/env python3
"""Checks `sightline evaluate` against Keras `predict` + scikit-learn on the same files.

    swift build && python3 scripts/check_evaluate.py [--sightline .build/debug/sightline] [MODEL DATA]

Default: the shipped fine-tuned model pretrained/digits_resnet.h5 (preprocessing tf, recorded in
the file) on pretrained/digits-mini (32x32 PNGs in class folders, so no resizing is involved).
Keras side: tf_keras `load_model`, images read with PIL, `x / 127.5 - 1`, `predict`; then
`accuracy_score`, `confusion_matrix` and `precision_recall_fscore_support(zero_division=0)`.
Exit status 1 unless accuracy, the confusion matrix and every per-class figure agree.
Needs `pip install tensorflow-cpu tf-keras scikit-learn pillow`.
"""
import json, os, subprocess, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
from PIL import Image
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support
import tf_keras

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
args = [a for a in sys.argv[1:]]
sightline = os.path.join(ROOT, ".build", "debug", "sightline")
if "--sightline" in args:
    sightline = args[args.index("--sightline") + 1]
    del args[args.index("--sightline"):args.index("--sightline") + 2]
model_path, data = (args + [None, None])[:2] if args else (os.path.join(ROOT, "pretrained/digits_resnet.h5"), os.path.join(ROOT, "pretrained/digits-mini"))

report = json.loads(subprocess.run([sightline, "evaluate", model_path, "--data", data, "--json"], check=True, capture_output=True, text=True).stdout)
names = report["class_names"]
model = tf_keras.models.load_model(model_path, compile=False)
size = model.input_shape[1:3]
paths, labels = [], []
for label, folder in enumerate(sorted(d for d in os.listdir(data) if os.path.isdir(os.path.join(data, d)))):
    for root, _, files in os.walk(os.path.join(data, folder)):
        for f in sorted(files):
            if f.lower().endswith((".png", ".jpg", ".jpeg")):
                paths.append(os.path.join(root, f)); labels.append(names.index(folder))
x = np.stack([np.asarray(Image.open(p).convert("RGB").resize(size[::-1], Image.BILINEAR), dtype=np.float32) for p in paths]) / 127.5 - 1
predicted = model.predict(x, verbose=0).argmax(axis=1)
accuracy = accuracy_score(labels, predicted)
matrix = confusion_matrix(labels, predicted, labels=list(range(len(names))))
precision, recall, f1, support = precision_recall_fscore_support(labels, predicted, labels=list(range(len(names))), zero_division=0)
ok = abs(accuracy - report["top1_accuracy"]) < 1e-9 and matrix.tolist() == report["confusion_matrix"]
for i, row in enumerate(report["per_class"]):
    ok &= all(abs(a - b) < 1e-9 for a, b in [(precision[i], row["precision"]), (recall[i], row["recall"]), (f1[i], row["f1"])]) and support[i] == row["support"]
print(f"{'ok' if ok else 'MISMATCH'}: {len(paths)} images, accuracy Keras+sklearn {accuracy:.4f}, Sightline {report['top1_accuracy']:.4f}; "
      f"confusion matrices {'equal' if matrix.tolist() == report['confusion_matrix'] else 'differ'}")
sys.exit(0 if ok else 1)
