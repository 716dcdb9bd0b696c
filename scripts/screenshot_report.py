"""Render an ltnet report in headless Chromium and check that the page really shows something.

    python scripts/screenshot_report.py ltnet-demo/report.html [--out shot.png]

Takes a full-height screenshot with Debian's ``chromium`` (``apt install chromium``), then checks
it: the page is not blank (enough non-white pixels and distinct colours, so the embedded figures
decoded) and is taller than one screen. Exit 0 when it renders, 1 when it does not, 2 when there
is no Chromium.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def screenshot(page: Path, out: Path, width: int = 1200, height: int = 6000) -> None:
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        sys.exit(2)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={out}",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def check(png: Path) -> dict:
    import matplotlib.image as mpimg

    img = mpimg.imread(png)[..., :3]
    nonwhite = float((img.min(axis=-1) < 0.95).mean())
    colours = len(np.unique((img * 255).astype(np.uint8).reshape(-1, 3)[::7], axis=0))
    rows = np.where((img.min(axis=-1) < 0.95).any(axis=1))[0]
    return {
        "nonwhite_fraction": nonwhite,
        "colours": colours,
        "content_height_px": int(rows.max() + 1) if rows.size else 0,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("page", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    out = args.out or args.page.with_suffix(".png")
    screenshot(args.page, out)
    c = check(out)
    ok = c["nonwhite_fraction"] > 0.05 and c["colours"] > 200 and c["content_height_px"] > 1500
    print(f"{out}: {c} -> {'renders' if ok else 'does NOT render'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
