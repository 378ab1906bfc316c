#!/usr/bin/python3
"""Writes lenta's built-in icons (standard library only): run from the repository root.

- data/apple-touch-icon.png: 180x180 PNG, the square icon (apple-touch-icon, Atom icon,
  JSON Feed icon);
- data/favicon.ico: 32x32 ICO with one 32-bit BMP image (the format every browser and reader reads);
- data/logo.png: 144x72 PNG, the logo (Atom logo, 2:1 as RFC 4287 4.2.8 asks; RSS image, at most
  144 wide as RSS 2.0 asks).

The design: a red tile with three white lines of "text", the usual picture of news.
"""
import struct
import zlib

RED = (0xB7, 0x1C, 0x1C, 0xFF)
WHITE = (0xFF, 0xFF, 0xFF, 0xFF)
CLEAR = (0, 0, 0, 0)


def tile(size, x, y, rounded=True):
    """The colour of pixel (x, y) of a size x size tile (square for iOS, which rounds and fills
    transparent pixels with black itself)."""
    r = size // 6 if rounded else 0  # corner radius
    if (x < r or x > size - 1 - r) and (y < r or y > size - 1 - r):
        cx = r if x < r else size - 1 - r
        cy = r if y < r else size - 1 - r
        if (x - cx) ** 2 + (y - cy) ** 2 > r * r:
            return CLEAR
    margin = size * 3 // 16
    bar = max(size // 9, 2)
    lengths = (1.0, 1.0, 0.6)
    for i, frac in enumerate(lengths):
        top = margin + i * (size - 2 * margin - bar) // 2
        if top <= y < top + bar and margin <= x < margin + int((size - 2 * margin) * frac):
            return WHITE
    return RED


def png(width, height, pixel):
    rows = b"".join(b"\0" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def ico(size, pixel):
    # BITMAPINFOHEADER with double height (XOR image + AND mask), bottom-up BGRA rows.
    header = struct.pack("<IiiHHIIiiII", 40, size, size * 2, 1, 32, 0, 0, 0, 0, 0, 0)
    xor = b"".join(bytes((b, g, r, a)) for y in reversed(range(size)) for (r, g, b, a) in
                   (pixel(x, y) for x in range(size)))
    mask_row = ((size + 31) // 32) * 4
    image = header + xor + b"\0" * (mask_row * size)
    directory = struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(image), 6 + 16)
    return struct.pack("<HHH", 0, 1, 1) + directory + image


def logo(x, y):
    if x < 72:
        return tile(72, x, y)
    # Wordmark-like lines to the right of the tile.
    for i, frac in enumerate((1.0, 0.7)):
        top = 22 + i * 18
        if top <= y < top + 9 and 82 <= x < 82 + int(58 * frac):
            return RED
    return CLEAR


with open("data/apple-touch-icon.png", "wb") as f:
    f.write(png(180, 180, lambda x, y: tile(180, x, y, rounded=False)))
with open("data/favicon.ico", "wb") as f:
    f.write(ico(32, lambda x, y: tile(32, x, y)))
with open("data/logo.png", "wb") as f:
    f.write(png(144, 72, logo))
