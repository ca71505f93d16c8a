#!/usr/bin/env python3
"""Score-CAM at full size: time to the first progress line, and --max-channels 64 against the
full method, alternating, on one machine in one run.

    swift build -c release && python3 scripts/check_scorecam.py [--sightline .build/release/sightline] [IMAGES...]

Model: `sightline init --arch resnet50` (random Keras-style weights, 224x224, 1000 classes),
layer conv5_block3_out (2,048 channels). Images: two of pretrained/samples unless given. Order:
64 channels, full, 64 channels; prints each run's seconds to its first standard-error line and
in total, and the ratio full / mean(64). Exit status 1 when the first line takes over a second
or the ratio is under 20.
"""
import os, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
args = sys.argv[1:]
sightline = os.path.join(ROOT, ".build", "release", "sightline")
if "--sightline" in args:
    sightline = args[args.index("--sightline") + 1]
    del args[args.index("--sightline"):args.index("--sightline") + 2]
images = args or [os.path.join(ROOT, "pretrained", "samples", f"digit_{d}.png") for d in (3, 8)]

def run(command):
    """(seconds to the first stderr line, total seconds, stderr)."""
    start = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first, lines = None, []
    for line in process.stderr:
        if first is None:
            first = time.monotonic() - start
        lines.append(line)
    process.wait()
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({process.returncode}):\n{''.join(lines)}")
    return first if first is not None else float("inf"), time.monotonic() - start, "".join(lines)

with tempfile.TemporaryDirectory() as scratch:
    model = os.path.join(scratch, "resnet50.h5")
    subprocess.run([sightline, "init", "--arch", "resnet50", "-o", model], check=True, stdout=subprocess.DEVNULL)
    def scorecam(label, extra):
        out = os.path.join(scratch, label)
        first, total, err = run([sightline, "gradcam", model, *images, "-o", out, "--method", "scorecam",
                                 "--layer", "conv5_block3_out", *extra])
        print(f"{label:>12}: first progress line after {first:.2f} s, {total:.1f} s in all; "
              f"first line: {err.splitlines()[0] if err else '(none)'}", flush=True)
        return first, total
    a = scorecam("64 channels", ["--max-channels", "64"])
    full = scorecam("full", [])
    b = scorecam("64 channels", ["--max-channels", "64"])
    ratio = full[1] / ((a[1] + b[1]) / 2)
    print(f"{len(images)} images: full Score-CAM / --max-channels 64 = {ratio:.1f}x")
    slow_start = max(a[0], full[0], b[0]) > 1.0
    sys.exit(1 if slow_start or ratio < 20 else 0)
