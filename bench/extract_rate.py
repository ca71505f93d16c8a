"""One `sightline extract` run as a JSON line, from its start and end times and its progress lines
(each prefixed with the time it was read; bench/compare_extract.sh, bench/device_scaling.sh):
images/s for the whole command, and after the first progress line past 0 images (process start,
model load, plan and first batch excluded, as the Keras peer excludes model construction and
its warm-up run), against the forward rate `sightline bench` gave at the same batch.
Usage: python3 bench/extract_rate.py START END PROGRESS_FILE BENCH_JSON [LABEL=VALUE...]
"""
import json, re, sys

start, end, progress, bench = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
points = [(float(t), int(n)) for t, n in re.findall(r"^(\S+) extract (\d+)/\d+ images", open(progress).read(), re.M)]
first = next(p for p in points if p[1] > 0)
last = points[-1]
steady = (last[1] - first[1]) / (last[0] - first[0]) if last[0] > first[0] else float("nan")
row = dict(a.split("=", 1) for a in sys.argv[5:])
row.update({"tool": "sightline extract", "images": last[1], "seconds": round(end - start, 2),
            "img_per_s": round(last[1] / (end - start), 2), "img_per_s_after_first_batch": round(steady, 2),
            "forward_img_per_s": bench["img_per_s"], "after_first_batch_over_forward": round(steady / bench["img_per_s"], 3)})
print(json.dumps(row))
