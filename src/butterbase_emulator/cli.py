"""Command line: parse flags, run the emulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from .emulator import DEV_API_KEY, Config, Emulator

APP_ID = re.compile(r"^app_[a-z0-9]+$")


def _app_id(value: str) -> str:
    if not APP_ID.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an app id (app_ followed by lowercase letters/digits)")
    return value


def _positive(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return number


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="butterbase-emulator",
        description="Local stand-in for the Butterbase Edge SSR control API (see docs/EMULATOR.md).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=4000, help="API port; 0 picks a free one (default 4000)")
    p.add_argument("--api-key", default=DEV_API_KEY, help="the one valid bb_sk_ key (default: the dev key)")
    p.add_argument("--app", dest="apps", action="append", type=_app_id, metavar="APP_ID",
                   help="an app the key may use; repeat for more (default: app_demo)")
    p.add_argument("--state-dir", type=Path, default=Path(".butterbase-emulator"),
                   help="where deployments, uploads and builds are kept (default ./.butterbase-emulator)")
    p.add_argument("--admin", action="store_true", help="enable the /_admin/ test interface (loopback only)")
    p.add_argument("--quirks", action="store_true", help="reproduce the real server's documented bugs")
    p.add_argument("--storage-port", type=int, default=None,
                   help="object storage (upload URL) port; 0 = any free port (default: last run's, else any)")
    p.add_argument("--upload-ttl-prebuilt", type=_positive, default=900, help="prebuilt upload URL lifetime, s")
    p.add_argument("--upload-ttl-source", type=_positive, default=600, help="source upload URL lifetime, s")
    p.add_argument("--build-timeout", type=float, default=1200.0, help="kill a source build after this many s")
    p.add_argument("--runtime", choices=("auto", "off"), default="auto",
                   help="serve workers with the Workers runtime when installed (auto) or static files only (off)")
    p.add_argument("--live-log-retention", type=float, default=60.0,
                   help="seconds a finished build's live log stays in memory (server: 60)")
    p.add_argument("--log-flush-interval", type=float, default=2.0,
                   help="seconds between rewrites of the stored build log (server: 2)")
    return p


def config_from_args(argv: list[str] | None) -> Config:
    args = build_parser().parse_args(argv)
    if not args.api_key.startswith("bb_sk_"):
        build_parser().error("--api-key must start with bb_sk_ (the server's API key format)")
    return Config(
        host=args.host, port=args.port, api_key=args.api_key, apps=tuple(dict.fromkeys(args.apps or ["app_demo"])),
        state_dir=args.state_dir, admin=args.admin, quirks=args.quirks, storage_port=args.storage_port,
        upload_ttl_prebuilt=args.upload_ttl_prebuilt, upload_ttl_source=args.upload_ttl_source,
        build_timeout=args.build_timeout, runtime=args.runtime, live_log_retention=args.live_log_retention,
        log_flush_interval=args.log_flush_interval,
    )


def main(argv: list[str] | None = None) -> int:
    config = config_from_args(argv)
    emulator = Emulator(config)
    try:
        emulator.start()
    except OSError as exc:
        print(f"butterbase-emulator: cannot listen on {config.host}:{config.port}: {exc.strerror or exc}",
              file=sys.stderr)
        emulator.stop()
        return 2
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"Butterbase emulator listening on {emulator.api_url}", flush=True)
    print(
        f"[emulator] storage {emulator.storage_endpoint()}; sites "
        + ", ".join(f"{app}={emulator.sites.url(app)}" for app in config.apps)
        + ("; quirk mode" if config.quirks else "")
        + ("; admin interface on" if config.admin else ""),
        file=sys.stderr, flush=True,
    )
    while not done.wait(0.5):
        pass
    emulator.stop()
    return 0
