"""ONNX Runtime forward throughput at a given thread count, for the many-core comparison
(bench/device_scaling.sh). The model is torchvision's (random weights), exported to ONNX here
when ./ARCH.onnx is missing, as ../shared/bench/export_onnx.py does; inputs are random.
Usage: python3 bench/peer_onnxruntime_threads.py ARCH BATCH THREADS [REPEATS]
Prints one JSON line: the median of REPEATS timed runs after two warm-ups.
"""
import json, os, sys, time

import numpy as np
import onnxruntime as ort

arch, batch, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 5
path = f"./{arch}.onnx"
if not os.path.exists(path):
    import torch, torchvision

    model = getattr(torchvision.models, arch)().eval()
    args = dict(input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "b"}}, opset_version=13)
    try:
        torch.onnx.export(model, torch.rand(1, 3, 224, 224), path, dynamo=False, **args)
    except TypeError:  # a torch without the dynamo switch
        torch.onnx.export(model, torch.rand(1, 3, 224, 224), path, **args)
options = ort.SessionOptions()
options.intra_op_num_threads = threads
session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
x = np.random.rand(batch, 3, 224, 224).astype("float32")
session.run(None, {"x": x})
session.run(None, {"x": x})
times = []
for _ in range(repeats):
    start = time.perf_counter()
    session.run(None, {"x": x})
    times.append(time.perf_counter() - start)
median = float(np.median(times))
print(json.dumps({"peer": "onnxruntime-" + ort.__version__, "arch": arch, "batch": batch, "threads": threads,
                  "median_s": round(median, 4), "img_per_s": round(batch / median, 2)}))
