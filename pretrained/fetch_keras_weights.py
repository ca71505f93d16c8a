#!/usr/bin/env python3
"""Downloads the official Keras Applications weight files listed in manifest.json and verifies
their MD5 (on a machine with internet; Sightline itself never downloads anything).

    python3 pretrained/fetch_keras_weights.py DIR [NAME ...]    # NAME: architecture (vgg16, resnet50, ...) or file name

A file already present with the right MD5 is kept; a wrong MD5 is an error and the partial or
corrupt download is removed.
"""
import hashlib
import json
import os
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    target, wanted = sys.argv[1], set(sys.argv[2:])
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(HERE, "manifest.json")) as f:
        entries = json.load(f)["files"]
    failures = 0
    for entry in entries:
        if wanted and entry["architecture"] not in wanted and entry["file"] not in wanted:
            continue
        folder = os.path.join(target, entry["architecture"])
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, entry["file"])
        if not (os.path.exists(path) and md5(path) == entry["md5"]):
            print(f"fetching {entry['url']}")
            urllib.request.urlretrieve(entry["url"], path + ".partial")
            os.replace(path + ".partial", path)
        actual = md5(path)
        if actual != entry["md5"]:
            print(f"MD5 mismatch for {path}: {actual}, expected {entry['md5']}", file=sys.stderr)
            os.remove(path)
            failures += 1
        else:
            print(f"ok {path} ({entry['md5']})")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
