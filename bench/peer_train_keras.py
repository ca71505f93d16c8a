# Peer timing for bench/compare_training.sh: one Keras 3 (TensorFlow backend) `train_on_batch`
# step, SGD momentum 0.9, sparse cross-entropy, random weights and data, 224x224, CPU, as
# ../shared/bench/peer_train_keras.py does, plus: 1000 classes (as `sightline bench`), the
# BatchNorm mode (frozen: every BatchNormalization layer `trainable = False`, which Keras runs
# in inference mode with moving statistics, what `sightline finetune` does by default; train:
# batch statistics), MobileNetV2 and EfficientNetB0, and the process's peak resident memory.
# Usage: python peer_train_keras.py BATCH [resnet50|vgg16|mobilenetv2|efficientnetb0] [frozen|train]
import json, os, resource, sys, time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import keras

batch = int(sys.argv[1]) if len(sys.argv) > 1 else 16
arch = sys.argv[2] if len(sys.argv) > 2 else "resnet50"
bn = sys.argv[3] if len(sys.argv) > 3 else "frozen"
ctor = {"resnet50": keras.applications.ResNet50, "vgg16": keras.applications.VGG16,
        "mobilenetv2": keras.applications.MobileNetV2, "efficientnetb0": keras.applications.EfficientNetB0}[arch]
m = ctor(weights=None, classes=1000)
if bn == "frozen":
    for layer in m.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
m.compile(keras.optimizers.SGD(1e-4, momentum=0.9), "sparse_categorical_crossentropy")
x = np.random.rand(batch, 224, 224, 3).astype("float32") * 255
y = np.random.randint(0, 1000, batch)
m.train_on_batch(x, y); m.train_on_batch(x, y)
ts = []
for _ in range(4):
    t0 = time.perf_counter(); m.train_on_batch(x, y); ts.append(time.perf_counter() - t0)
med = float(np.median(ts))
print(json.dumps({"peer": "keras-" + keras.__version__ + " train_on_batch", "arch": arch, "batch": batch, "bn": bn,
                  "median_s": round(med, 4), "img_per_s": round(batch / med, 2),
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
