#!/usr/bin/env python3
"""JPEG/PNG variants and the pixels Pillow decodes from them (the reference for Sightline's
decoder), plus broken files for the robustness tests.

    pip install pillow && python3 Tests/Fixtures/make_image_fixtures.py

Writes Tests/Fixtures/decode/: a 24x16 synthetic photo saved as baseline, progressive, grayscale,
CMYK (Pillow writes Adobe-inverted CMYK) and EXIF-oriented (2, 3, 6, 8) JPEGs, and as 16-bit,
grayscale+alpha, palette+transparency PNGs; expected.json holds, per file, Pillow's
ImageOps.exif_transpose(Image.open(f)).convert("RGB") pixels. Also truncated.jpg, text.jpg
(a text file named .jpg) and empty.jpg (zero bytes).
"""
import io
import json
import os

import numpy as np
from PIL import Image, ImageOps

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "decode")
os.makedirs(OUT, exist_ok=True)
h, w = 16, 24
y, x = np.mgrid[0:h, 0:w]
photo = np.stack([x * 10 % 256, y * 15 % 256, (x * y * 3 + 40) % 256], axis=-1).astype(np.uint8)
base = Image.fromarray(photo, "RGB")


def exif(orientation):
    data = Image.Exif()
    data[0x0112] = orientation
    return data.tobytes()


def png16(path):
    # Pillow cannot write 16-bit RGB; write it with the standard library (big-endian samples).
    import struct
    import zlib
    raw = b"".join(b"\x00" + b"".join(struct.pack(">HHH", *(int(v) * 257 + (i % 200) for i, v in enumerate(px))) for px in row) for row in photo)
    chunk = lambda k, d: struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))



files = {
    "baseline.jpg": lambda p: base.save(p, quality=90),
    "progressive.jpg": lambda p: base.save(p, quality=85, progressive=True),
    "gray.jpg": lambda p: base.convert("L").save(p, quality=90),
    "cmyk.jpg": lambda p: base.convert("CMYK").save(p, quality=95),
    "exif2.jpg": lambda p: base.save(p, quality=90, exif=exif(2)),
    "exif3.jpg": lambda p: base.save(p, quality=90, exif=exif(3)),
    "exif6.jpg": lambda p: base.save(p, quality=90, exif=exif(6)),
    "exif8.jpg": lambda p: base.save(p, quality=90, exif=exif(8)),
    "rgb16.png": png16,
    "gray_alpha.png": lambda p: base.convert("LA").save(p),
    "palette_alpha.png": lambda p: base.convert("P", palette=Image.ADAPTIVE, colors=16).save(p, transparency=0),
}


expected = {}
for name, save in files.items():
    path = os.path.join(OUT, name)
    save(path)
    image = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    expected[name] = {"width": image.width, "height": image.height, "pixels": list(image.tobytes())}
good = io.BytesIO()
base.save(good, "JPEG", quality=90)
open(os.path.join(OUT, "truncated.jpg"), "wb").write(good.getvalue()[: len(good.getvalue()) // 2])
open(os.path.join(OUT, "text.jpg"), "w").write("this is a text file named .jpg\n")
open(os.path.join(OUT, "empty.jpg"), "wb").close()
with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump(expected, f, separators=(",", ":"))
print("wrote", sorted(os.listdir(OUT)))
