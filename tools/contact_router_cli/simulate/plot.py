"""A line chart as a PNG, in pure Python (zlib for the compression): no plotting dependency for one chart.

``line_chart`` draws series of (x, y) points with axes, ticks, a title and a legend, using a 5x7 bitmap
font (upper-case letters, digits and a little punctuation).
"""

from __future__ import annotations

import itertools
import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

Color = tuple[int, int, int]
WHITE: Color = (255, 255, 255)
BLACK: Color = (30, 30, 30)
GREY: Color = (200, 200, 200)
BLUE: Color = (31, 119, 180)
RED: Color = (214, 39, 40)
ORANGE: Color = (255, 127, 14)

# 5x7 glyphs, one string per row, "#" = ink.
_FONT: dict[str, tuple[str, ...]] = {
    " ": ("     ",) * 7,
    "0": (" ### ", "#   #", "#  ##", "# # #", "##  #", "#   #", " ### "),
    "1": ("  #  ", " ##  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "),
    "2": (" ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####"),
    "3": ("#####", "   # ", "  #  ", "   # ", "    #", "#   #", " ### "),
    "4": ("   # ", "  ## ", " # # ", "#  # ", "#####", "   # ", "   # "),
    "5": ("#####", "#    ", "#### ", "    #", "    #", "#   #", " ### "),
    "6": ("  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### "),
    "7": ("#####", "    #", "   # ", "  #  ", " #   ", " #   ", " #   "),
    "8": (" ### ", "#   #", "#   #", " ### ", "#   #", "#   #", " ### "),
    "9": (" ### ", "#   #", "#   #", " ####", "    #", "   # ", " ##  "),
    "A": (" ### ", "#   #", "#   #", "#####", "#   #", "#   #", "#   #"),
    "B": ("#### ", "#   #", "#   #", "#### ", "#   #", "#   #", "#### "),
    "C": (" ### ", "#   #", "#    ", "#    ", "#    ", "#   #", " ### "),
    "D": ("#### ", "#   #", "#   #", "#   #", "#   #", "#   #", "#### "),
    "E": ("#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#####"),
    "F": ("#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#    "),
    "G": (" ### ", "#   #", "#    ", "# ###", "#   #", "#   #", " ####"),
    "H": ("#   #", "#   #", "#   #", "#####", "#   #", "#   #", "#   #"),
    "I": (" ### ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "),
    "J": ("  ###", "   # ", "   # ", "   # ", "   # ", "#  # ", " ##  "),
    "K": ("#   #", "#  # ", "# #  ", "##   ", "# #  ", "#  # ", "#   #"),
    "L": ("#    ", "#    ", "#    ", "#    ", "#    ", "#    ", "#####"),
    "M": ("#   #", "## ##", "# # #", "# # #", "#   #", "#   #", "#   #"),
    "N": ("#   #", "#   #", "##  #", "# # #", "#  ##", "#   #", "#   #"),
    "O": (" ### ", "#   #", "#   #", "#   #", "#   #", "#   #", " ### "),
    "P": ("#### ", "#   #", "#   #", "#### ", "#    ", "#    ", "#    "),
    "Q": (" ### ", "#   #", "#   #", "#   #", "# # #", "#  # ", " ## #"),
    "R": ("#### ", "#   #", "#   #", "#### ", "# #  ", "#  # ", "#   #"),
    "S": (" ####", "#    ", "#    ", " ### ", "    #", "    #", "#### "),
    "T": ("#####", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  "),
    "U": ("#   #", "#   #", "#   #", "#   #", "#   #", "#   #", " ### "),
    "V": ("#   #", "#   #", "#   #", "#   #", "#   #", " # # ", "  #  "),
    "W": ("#   #", "#   #", "#   #", "# # #", "# # #", "# # #", " # # "),
    "X": ("#   #", "#   #", " # # ", "  #  ", " # # ", "#   #", "#   #"),
    "Y": ("#   #", "#   #", " # # ", "  #  ", "  #  ", "  #  ", "  #  "),
    "Z": ("#####", "    #", "   # ", "  #  ", " #   ", "#    ", "#####"),
    ".": ("     ", "     ", "     ", "     ", "     ", " ##  ", " ##  "),
    ",": ("     ", "     ", "     ", "     ", " ##  ", "  #  ", " #   "),
    ":": ("     ", " ##  ", " ##  ", "     ", " ##  ", " ##  ", "     "),
    "/": ("    #", "    #", "   # ", "  #  ", " #   ", "#    ", "#    "),
    "-": ("     ", "     ", "     ", "#####", "     ", "     ", "     "),
    "+": ("     ", "  #  ", "  #  ", "#####", "  #  ", "  #  ", "     "),
    "=": ("     ", "     ", "#####", "     ", "#####", "     ", "     "),
    "(": ("   # ", "  #  ", " #   ", " #   ", " #   ", "  #  ", "   # "),
    ")": (" #   ", "  #  ", "   # ", "   # ", "   # ", "  #  ", " #   "),
    "%": ("##   ", "##  #", "   # ", "  #  ", " #   ", "#  ##", "   ##"),
}
_UNKNOWN = ("#####", "#   #", "#   #", "#   #", "#   #", "#   #", "#####")


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[float, float]]
    color: Color
    dashed: bool = False


class Canvas:
    def __init__(self, width: int, height: int, background: Color = WHITE) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(background) * (width * height))

    def set(self, x: int, y: int, color: Color) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            i = (y * self.width + x) * 3
            self.pixels[i : i + 3] = bytes(color)

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        for y in range(max(0, y0), min(self.height, y1 + 1)):
            for x in range(max(0, x0), min(self.width, x1 + 1)):
                self.set(x, y, color)

    def line(
        self, x0: int, y0: int, x1: int, y1: int, color: Color, width: int = 1, dash: int = 0, phase: int = 0
    ) -> int:
        """Bresenham, ``width`` pixels thick; ``dash`` > 0 draws dashes of that many steps, starting ``phase``
        steps into the pattern (to continue a dashed polyline). Returns the phase at the end."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err, step = dx + dy, phase
        half = width // 2
        while True:
            if not dash or (step // dash) % 2 == 0:
                self.rect(x0 - half, y0 - half, x0 - half + width - 1, y0 - half + width - 1, color)
            if x0 == x1 and y0 == y1:
                return step
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy
            step += 1

    def text(self, x: int, y: int, text: str, color: Color = BLACK, scale: int = 2) -> int:
        """Draw upper-cased ``text`` with its top-left corner at (x, y); returns the width drawn."""
        start = x
        for char in text.upper():
            glyph = _FONT.get(char, _UNKNOWN)
            for row, bits in enumerate(glyph):
                for col, bit in enumerate(bits):
                    if bit == "#":
                        self.rect(
                            x + col * scale,
                            y + row * scale,
                            x + (col + 1) * scale - 1,
                            y + (row + 1) * scale - 1,
                            color,
                        )
            x += 6 * scale
        return x - start

    @staticmethod
    def text_width(text: str, scale: int = 2) -> int:
        return len(text) * 6 * scale

    def png(self) -> bytes:
        rows = b"".join(
            b"\x00" + bytes(self.pixels[y * self.width * 3 : (y + 1) * self.width * 3]) for y in range(self.height)
        )

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")
        )


def nice_ticks(high: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``high``."""
    if high <= 0:
        return [0.0, 1.0]
    raw = high / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks = [0.0]
    while ticks[-1] < high:
        ticks.append(ticks[-1] + step)
    return ticks


def _label(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:g}"


def line_chart(
    series: Sequence[Series], *, title: str, x_label: str, y_label: str, width: int = 960, height: int = 540
) -> bytes:
    canvas = Canvas(width, height)
    left, right, top, bottom = 90, width - 30, 80, height - 70
    x_max = max((x for s in series for x, _ in s.points), default=1.0)
    y_max = max((y for s in series for _, y in s.points), default=1.0)
    x_ticks, y_ticks = nice_ticks(x_max), nice_ticks(y_max)
    x_top, y_top = x_ticks[-1], y_ticks[-1]

    def px(x: float) -> int:
        return round(left + (right - left) * x / x_top)

    def py(y: float) -> int:
        return round(bottom - (bottom - top) * y / y_top)

    canvas.text(left, 14, title, scale=2)
    for tick in y_ticks:
        y = py(tick)
        canvas.line(left, y, right, y, GREY)
        label = _label(tick)
        canvas.text(left - 10 - Canvas.text_width(label), y - 7, label)
    for tick in x_ticks:
        x = px(tick)
        canvas.line(x, bottom, x, bottom + 6, BLACK)
        label = _label(tick)
        canvas.text(x - Canvas.text_width(label) // 2, bottom + 12, label)
    canvas.line(left, top, left, bottom, BLACK, 2)
    canvas.line(left, bottom, right, bottom, BLACK, 2)
    canvas.text((left + right - Canvas.text_width(x_label)) // 2, height - 28, x_label)
    canvas.text(max(4, left - Canvas.text_width(y_label) // 2), top - 28, y_label)

    for s in series:
        points = [(px(x), py(y)) for x, y in s.points]
        phase = 0
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            phase = canvas.line(x0, y0, x1, y1, s.color, 3, dash=8 if s.dashed else 0, phase=phase)
    legend_y = top + 10
    for s in series:
        canvas.line(left + 20, legend_y + 7, left + 60, legend_y + 7, s.color, 3, dash=8 if s.dashed else 0)
        canvas.text(left + 70, legend_y, s.label)
        legend_y += 24
    return canvas.png()


def write_chart(path: Path, series: Sequence[Series], *, title: str, x_label: str, y_label: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(line_chart(series, title=title, x_label=x_label, y_label=y_label))
    return path
