#!/usr/bin/env python3
"""Writes small PNG fixtures with the standard library only (zlib + struct), so the codec tests
exercise libpng's conversions: 8-bit RGB, 16-bit grayscale, 4-bit palette, RGBA.

    python3 Tests/Fixtures/make_png_fixtures.py

Each image is 5 wide and 3 high; pixel (x, y) has the RGB value (40x + 10, 60y + 20, 200 - 30x)
except where the format cannot hold it (documented per file); the Swift test recomputes them.
"""
import os
import struct
import zlib

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "images")
W, H = 5, 3


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(path, depth, color_type, rows, palette=None):
    raw = b"".join(b"\x00" + row for row in rows)
    body = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, depth, color_type, 0, 0, 0))
    if palette:
        body += chunk(b"PLTE", b"".join(bytes(c) for c in palette))
    body += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    with open(os.path.join(HERE, path), "wb") as f:
        f.write(body)


def rgb(x, y):
    return (40 * x + 10, 60 * y + 20, 200 - 30 * x)


os.makedirs(HERE, exist_ok=True)
png("rgb8.png", 8, 2, [bytes(v for x in range(W) for v in rgb(x, y)) for y in range(H)])
# 16-bit gray: value g*257 with g = 40x + 30y; libpng strips to the high byte, i.e. g.
png("gray16.png", 16, 0, [b"".join(struct.pack(">H", (40 * x + 30 * y) * 257) for x in range(W)) for y in range(H)])
# 4-bit palette: index (x + y) % 4 into four colours.
palette = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (9, 99, 199)]
rows = []
for y in range(H):
    idx = [(x + y) % 4 for x in range(W)] + [0]
    rows.append(bytes((idx[i] << 4) | idx[i + 1] for i in range(0, W, 2)))
png("palette4.png", 4, 3, rows, palette)
# RGBA: alpha is dropped.
png("rgba8.png", 8, 6, [bytes(v for x in range(W) for v in rgb(x, y) + (x * 50,)) for y in range(H)])
print("wrote", sorted(os.listdir(HERE)))
