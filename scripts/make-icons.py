#!/usr/bin/env python3
"""Draws Ensemble's app icon (three overlapping circles on a rounded square)
into icons/*.png with only the standard library. Run once; the PNGs are committed."""
import math
import struct
import sys
import zlib
from pathlib import Path


def png(path: Path, size: int, pixel) -> None:
    rows = bytearray()
    for y in range(size):
        rows.append(0)
        for x in range(size):
            rows.extend(pixel(x, y, size))
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(b"IEND", b"")
    path.write_bytes(data)


def coverage(d: float) -> float:
    """Anti-aliased coverage for a signed distance (negative = inside)."""
    return max(0.0, min(1.0, 0.5 - d))


def icon_pixel(x: int, y: int, size: int):
    s = size / 512.0
    px, py = (x + 0.5) / s, (y + 0.5) / s  # work in 512-unit space
    # rounded square background with a vertical gradient
    r, half = 112.0, 232.0
    qx, qy = abs(px - 256) - (half - r), abs(py - 256) - (half - r)
    outside = math.hypot(max(qx, 0), max(qy, 0)) + min(max(qx, qy), 0) - r
    a_bg = coverage(outside * s)
    t = py / 512.0
    bg = (int(40 + 20 * t), int(44 + 10 * t), int(110 + 40 * t))
    col = [bg[0], bg[1], bg[2]]
    # three translucent circles (the crew)
    for (cx, cy, c) in ((256, 196, (255, 183, 77)), (196, 300, (77, 208, 225)), (316, 300, (240, 98, 146))):
        d = (math.hypot(px - cx, py - cy) - 92) * s
        a = coverage(d) * 0.82
        col = [col[i] * (1 - a) + c[i] * a for i in range(3)]
    return bytes([int(col[0]), int(col[1]), int(col[2]), int(255 * a_bg)])


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "icons")
    out.mkdir(parents=True, exist_ok=True)
    # 256x256.png has the same pixels as 128x128@2x.png: the Linux bundler
    # files an "@2x" image under hicolor/256x256@2 (meant for 512 px), so the
    # .deb lists the plain-named one.
    sizes = (("32x32.png", 32), ("64x64.png", 64), ("128x128.png", 128), ("128x128@2x.png", 256),
             ("256x256.png", 256), ("icon.png", 512))
    for name, size in sizes:
        png(out / name, size, icon_pixel)
        print("wrote", out / name)


if __name__ == "__main__":
    main()
