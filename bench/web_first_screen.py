"""Web client: the bundle's size and the time to the first screen on loopback.

    python -m bench.web_first_screen [--runs 10]

Starts a parleyd (its own data in a temporary folder), then opens the web client in
Debian's headless chromium (Playwright), each run in a new browser context, so with a
cold cache: the time from navigation start until the sign-in form is on screen and
usable (the password field can take input), as the page's own clock measures it.
Also the size of what the first screen loads (JS and CSS, raw and gzip-compressed),
and of the crypto WebAssembly, which loads only after signing in.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import re
import statistics
import tempfile
from pathlib import Path

from tests.parleyd_process import Parleyd

DIST = Path(__file__).resolve().parents[1] / "clients" / "web" / "dist"
CHROMIUM = "/usr/bin/chromium"
FIRST_SCREEN_FILES: list[str] = []
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def bundle_sizes() -> dict[str, int]:
    index = (DIST / "index.html").read_text()
    first = [DIST / p.lstrip("/") for p in re.findall(r'(?:src|href)="(/assets/[^"]+\.(?:js|css))"', index)]
    # Chunks the entry imports statically load before it runs: count every .js file
    # except those only imported dynamically (esbuild's metafile is gone by now, so
    # approximate with "all JS"; the crypto WASM is separate).
    js_css = [p for p in (DIST / "assets").iterdir() if p.suffix in (".js", ".css")]
    wasm = sum(p.stat().st_size for p in (DIST / "assets").glob("*.wasm"))
    return {
        "entry_files": len(first),
        "js_css_bytes": sum(p.stat().st_size for p in js_css),
        "js_css_gzip_bytes": sum(len(gzip.compress(p.read_bytes(), 6)) for p in js_css),
        "wasm_bytes": wasm,
    }


async def measure(runs: int) -> list[float]:
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory() as tmp:
        server = Parleyd(Path(tmp))
        await server.init()
        await server.start()
        try:
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                times = []
                for _ in range(runs):
                    context = await browser.new_context()  # empty cache and storage
                    page = await context.new_page()
                    loaded: list[str] = []
                    page.on("response", lambda r, loaded=loaded: loaded.append(r.url))
                    await page.goto(server.base_url + "/", wait_until="commit")
                    await page.locator("input[name=password]").wait_for(state="visible")
                    times.append(await page.evaluate("performance.now()"))
                    await page.wait_for_load_state("networkidle")
                    FIRST_SCREEN_FILES[:] = [u.rsplit("/", 1)[-1] for u in loaded if "/assets/" in u]
                    await context.close()
                await browser.close()
        finally:
            await server.stop()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    sizes = bundle_sizes()
    times = asyncio.run(measure(args.runs))
    print(f"bundle: JS+CSS {sizes['js_css_bytes'] / 1024:.0f} KiB "
          f"({sizes['js_css_gzip_bytes'] / 1024:.0f} KiB gzip), crypto WASM {sizes['wasm_bytes'] / 1024:.0f} KiB "
          "(loaded after sign-in)")
    first = [DIST / "assets" / name for name in FIRST_SCREEN_FILES]
    print(f"first screen loads {len(first)} assets: {sum(p.stat().st_size for p in first) / 1024:.0f} KiB "
          f"({sum(len(gzip.compress(p.read_bytes(), 6)) for p in first) / 1024:.0f} KiB gzip)")
    print(f"first screen (sign-in form usable), cold cache, {args.runs} runs: "
          f"median {statistics.median(times):.0f} ms, max {max(times):.0f} ms")


if __name__ == "__main__":
    main()
