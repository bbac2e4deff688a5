"""Render an explain report in headless Chromium, with no network, and save a screenshot.

Checks that the report opens on its own: Chromium runs with every network path shut (a proxy
that does not exist, no background networking), so anything the page tried to fetch would be
missing from the picture. Needs Debian's ``chromium`` (``apt-get install -y chromium``).

The window is made taller than the page and the blank space below the page is cropped, so the
picture shows the whole report; ``--scale`` shrinks it (for docs/).

    python benchmarks/report_screenshot.py REPORT_DIR/index.html docs/img/explain_report.png [--scale 0.6]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def screenshot(
    html: Path, png: Path, width: int = 1280, height: int = 16000, scale: float = 1.0, timeout: float = 180.0
) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("report_screenshot: chromium not found (apt-get install -y chromium)")
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="irtrouter-chromium-") as profile:
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--proxy-server=http://127.0.0.1:9",  # nothing listens there: no request could succeed
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={png.resolve()}",
            html.resolve().as_uri(),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0 or not png.is_file():
        sys.exit(f"report_screenshot: chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    size = crop_and_scale(png, scale)
    print(f"saved {png} ({size[0]}x{size[1]}, {png.stat().st_size // 1024} KiB) from {html}")


def crop_and_scale(png: Path, scale: float) -> tuple[int, int]:
    """Cut the uniform background below the page; shrink by ``scale``; keep a 256-colour PNG."""
    import numpy as np
    from PIL import Image

    with Image.open(png) as im:
        rgb = im.convert("RGB")
    pixels = np.asarray(rgb)
    differs = (pixels != pixels[-1:, :, :]).any(axis=(1, 2))  # rows unlike the last (background) row
    bottom = int(np.nonzero(differs)[0].max()) + 25 if differs.any() else pixels.shape[0]
    rgb = rgb.crop((0, 0, rgb.width, min(bottom, rgb.height)))
    if scale != 1.0:
        rgb = rgb.resize((round(rgb.width * scale), round(rgb.height * scale)), Image.Resampling.LANCZOS)
    rgb.quantize(256).save(png, optimize=True)
    return rgb.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=16000, help="Window height: more than the page's.")
    parser.add_argument("--scale", type=float, default=1.0, help="Shrink the picture by this factor.")
    args = parser.parse_args()
    screenshot(args.html, args.png, args.width, args.height, args.scale)


if __name__ == "__main__":
    main()
