"""The ``civicloop`` console command.

civicloop demo                 migrate, load the demo city, start the worker, serve on :8000
civicloop serve                production server (gunicorn), no Django runserver
civicloop worker               background jobs, reminders, urging, escalation, look-backs
civicloop import-areas FILE    import places from GeoJSON
civicloop manage ARGS…         any Django management command
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any


def _setup(settings_module: str | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module or "civicloop.settings.dev")
    home = Path(os.environ.get("CIVICLOOP_HOME", Path.cwd() / "var"))
    home.mkdir(parents=True, exist_ok=True)
    import django

    django.setup()


def _manage(*args: str, **options: Any) -> None:
    from django.core.management import call_command

    call_command(*args, **options)


def cmd_manage(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicloop.settings.dev")
    Path(os.environ.get("CIVICLOOP_HOME", Path.cwd() / "var")).mkdir(parents=True, exist_ok=True)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["civicloop manage", *argv])
    return 0


def cmd_import_areas(args: argparse.Namespace) -> int:
    _setup()
    options: list[str] = ["--crs", args.crs]
    if args.dry_run:
        options.append("--dry-run")
    _manage("import_areas", args.file, *options)
    return 0


def cmd_import_osm(args: argparse.Namespace) -> int:
    _setup()
    options: list[str] = ["--no-analysis"] if args.no_analysis else []
    _manage("import_osm", args.file, *options)
    return 0


def _gunicorn_argv(bind: str, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "civicloop.wsgi:application",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--threads",
        "4",
        "--access-logfile",
        "-",
        "--timeout",
        "60",
    ]


def cmd_serve(args: argparse.Namespace) -> int:
    _setup()
    _manage("migrate", "--no-input", verbosity=0)
    _manage("collectstatic", "--no-input", verbosity=0)
    from django.db import connections

    connections.close_all()
    os.execv(sys.executable, _gunicorn_argv(args.bind, args.workers))
    return 0  # pragma: no cover


def cmd_worker(args: argparse.Namespace) -> int:
    _setup()
    options: dict[str, Any] = {"interval": args.interval}
    if args.once:
        options["once"] = True
    _manage("run_worker", **options)
    return 0


def _wait_until_serving(url: str, server: subprocess.Popen[bytes], timeout: float = 60.0) -> bool:
    """True once ``url`` answers 200; False if the server exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    return False


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into the same clean shutdown as Ctrl-C: the finally below stops the children.
    raise KeyboardInterrupt


def cmd_demo(args: argparse.Namespace) -> int:
    _setup()
    from django.db import connections

    _manage("migrate", "--no-input", verbosity=0)
    _manage("load_demo", cases=args.cases)
    _manage("collectstatic", "--no-input", verbosity=0)
    connections.close_all()
    base = f"http://{args.bind}"
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    env = dict(os.environ)
    children: list[subprocess.Popen[bytes]] = []
    try:
        children.append(
            subprocess.Popen([sys.executable, "-m", "civicloop.cli", "worker"], env=env)
        )
        server = subprocess.Popen(_gunicorn_argv(args.bind, 2), env=env)
        children.append(server)
        if not _wait_until_serving(f"{base}/healthz", server):
            print(
                f"civicloop demo: the web server did not come up on {args.bind} (is the port taken?)",
                file=sys.stderr,
                flush=True,
            )
            return 1
        engine = connections["default"].vendor
        print(f"\n(database: {engine}; stop with Ctrl-C)", flush=True)
        _manage("demo_logins", url=base)
        sys.stdout.flush()
        connections.close_all()
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for proc in children:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in children:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["manage"]:
        return cmd_manage(argv[1:])
    parser = argparse.ArgumentParser(
        prog="civicloop", description="civicloop: grid governance and the GB/T 30428 case loop"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="migrate, load the demo city and serve it")
    demo.add_argument("--bind", default=os.environ.get("CIVICLOOP_BIND", "127.0.0.1:8000"))
    demo.add_argument(
        "--cases", type=int, default=2000, help="reports to replay on the first load (default 2000)"
    )
    demo.set_defaults(func=cmd_demo)
    serve = sub.add_parser("serve", help="run the production web server (gunicorn)")
    serve.add_argument("--bind", default=os.environ.get("CIVICLOOP_BIND", "127.0.0.1:8000"))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("CIVICLOOP_WORKERS", "3")))
    serve.set_defaults(func=cmd_serve)
    worker = sub.add_parser("worker", help="run background jobs and the deadline sweeps")
    worker.add_argument(
        "--interval", type=float, default=60.0, help="seconds between deadline sweeps"
    )
    worker.add_argument(
        "--once", action="store_true", help="run the queued jobs and one sweep, then exit"
    )
    worker.set_defaults(func=cmd_worker)
    imp = sub.add_parser(
        "import-areas", help="import districts … grids, compounds and back streets from GeoJSON"
    )
    imp.add_argument("file", help="GeoJSON file, or - for standard input")
    imp.add_argument(
        "--crs", choices=("wgs84", "gcj02"), default="wgs84", help="coordinate system of the file"
    )
    imp.add_argument(
        "--dry-run", action="store_true", help="check the file and report, without writing"
    )
    imp.set_defaults(func=cmd_import_areas)
    osm = sub.add_parser(
        "import-osm",
        help="import the walking network, facilities and buildings of an .osm.pbf and compute the life circle",
    )
    osm.add_argument("file", help="OpenStreetMap extract (.osm.pbf)")
    osm.add_argument(
        "--no-analysis", action="store_true", help="only import; the worker computes the life circle"
    )
    osm.set_defaults(func=cmd_import_osm)
    sub.add_parser("manage", help="pass the rest to Django's management commands")
    args = parser.parse_args(argv)
    from django.core.management.base import CommandError

    try:
        return int(args.func(args) or 0)
    except CommandError as exc:
        print(f"civicloop {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
