"""Play outputs in real players: a loopback HTTP server for the outputs, the player page and the
npm packages, and ``browser/play.mjs`` driving Debian's headless Chromium."""
from __future__ import annotations

import json
import shutil
import subprocess
import threading
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[3]
BROWSER = Path(__file__).resolve().parent / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".mpd": "application/dash+xml", ".m4s": "video/iso.segment",
         ".mp4": "video/mp4", ".js": "text/javascript", ".vtt": "text/vtt"}


def missing() -> str | None:
    """Why the players cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return "chromium is not installed (bin/setup installs Debian's package)"
    for p in ("node_modules/hls.js/dist/hls.min.js", "node_modules/dashjs/dist/modern/umd/dash.all.min.js",
              "node_modules/playwright-core/package.json"):
        if not (ROOT / p).exists():
            return f"{p} is missing: run bin/setup (npm ci)"
    if not shutil.which("node"):
        return "node is not installed"
    return None


class _Handler(SimpleHTTPRequestHandler):
    media: Path = Path(".")

    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0]
        if path.startswith("/node_modules/"):
            return str(ROOT / path.lstrip("/"))
        if path.startswith("/media/"):
            return str(self.media / path[len("/media/"):])
        return str(BROWSER / path.lstrip("/"))

    def guess_type(self, path):
        return TYPES.get(Path(str(path)).suffix, super().guess_type(path))

    def log_message(self, *args):
        pass


@contextmanager
def serve(media: Path):
    """Serve ``media`` under /media/ beside the player page on a free loopback port."""
    handler = type("Handler", (_Handler,), {"media": Path(media)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def play(base: str, player: str, src: str, *, switch: bool = True, timeout: float = 90.0) -> dict:
    """Play ``src`` (a path under the server) with hls.js or dash.js to its end; the page's record."""
    url = f"{base}/player.html?{urlencode({'player': player, 'src': src, 'switch': int(switch)})}"
    done = subprocess.run(["node", str(BROWSER / "play.mjs"), url, str(int(timeout * 1000))], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout + 60,
                          env={"PATH": "/usr/bin:/bin", "CHROMIUM_BIN": CHROMIUM,
                               "NODE_PATH": str(ROOT / "node_modules")})
    if done.returncode != 0:
        raise RuntimeError(f"play.mjs failed ({done.returncode}): {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
