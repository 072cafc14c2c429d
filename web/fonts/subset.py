#!/usr/bin/env python3
"""Regenerates the wall's font: Noto Sans CJK SC (SIL OFL 1.1, see OFL.txt),
cut down to the characters the wall can show.

The characters are every non-ASCII character in web/index.html, web/view.html
and web/src/ (all UI strings and the 16 district names live there; the staff
console, web/src/console/, uses the system's fonts and is left out), printable
ASCII, and a little CJK punctuation. Run it after adding a UI string:

    apt-get install fonts-noto-cjk      # the source font (Debian, OFL)
    pip install fonttools brotli
    python3 web/fonts/subset.py

It writes wall-sans-sc-400.woff2, wall-sans-sc-700.woff2 and chars.txt into
web/src/wall/fonts/ (inside src/, so the Cargo build script sees a change); commit
all three. The browser tests check that every character on the page is
in chars.txt.
"""
import argparse
import pathlib
import sys

from fontTools import subset
from fontTools.ttLib import TTCollection

HERE = pathlib.Path(__file__).resolve().parent
WEB = HERE.parent
OUT = WEB / "src" / "wall" / "fonts"
SOURCES = {
    400: "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    700: "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
}
FAMILY = "Noto Sans CJK SC"
EXTRA = "，。：；！？、·…—“”‘’（）《》【】「」％＋－　‰°×÷←→↑↓●○■□▲△"


def wanted_text():
    chars = {chr(c) for c in range(0x20, 0x7F)}
    # The wall and the leaders' view; the console uses the system's fonts.
    console = WEB / "src" / "console"
    sources = [*sorted((WEB / "src").rglob("*.js")), *sorted((WEB / "src").rglob("*.css"))]
    files = [WEB / "index.html", WEB / "view.html", *(f for f in sources if console not in f.parents)]
    for f in files:
        chars.update(ch for ch in f.read_text(encoding="utf-8") if ord(ch) > 0x7F and ch.isprintable())
    chars.update(EXTRA)
    return "".join(sorted(chars))


def sc_font(path):
    for font in TTCollection(path).fonts:
        names = {r.toUnicode() for r in font["name"].names if r.nameID in (1, 16)}
        if FAMILY in names:
            return font
    sys.exit(f"{path}: no '{FAMILY}' face")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--regular", default=SOURCES[400])
    ap.add_argument("--bold", default=SOURCES[700])
    args = ap.parse_args()
    text = wanted_text()
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["kern", "tnum", "liga", "locl", "palt", "halt", "vert"]
    options.hinting = False
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14]  # keep copyright and licence
    options.notdef_outline = True
    for weight, path in ((400, args.regular), (700, args.bold)):
        font = sc_font(path)
        sub = subset.Subsetter(options)
        sub.populate(text=text)
        sub.subset(font)
        out = OUT / f"wall-sans-sc-{weight}.woff2"
        font.flavor = "woff2"
        # Same input, same bytes: keep the source's timestamp.
        font.recalcTimestamp = False
        font.save(out)
        print(f"{out.name}: {out.stat().st_size} bytes")
    # What the font covers, one line, for the tests.
    (OUT / "chars.txt").write_text(text + "\n", encoding="utf-8")
    print(f"chars.txt: {len(text)} characters")


if __name__ == "__main__":
    main()
