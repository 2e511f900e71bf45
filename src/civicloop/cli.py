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
from pathlib import Path


def _setup(settings_module: str | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module or "civicloop.settings.dev")
    home = Path(os.environ.get("CIVICLOOP_HOME", Path.cwd() / "var"))
    home.mkdir(parents=True, exist_ok=True)
    import django

    django.setup()


def _manage(*args: str) -> None:
    from django.core.management import call_command

    call_command(*args)


def cmd_manage(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicloop.settings.dev")
    Path(os.environ.get("CIVICLOOP_HOME", Path.cwd() / "var")).mkdir(parents=True, exist_ok=True)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["civicloop manage", *argv])
    return 0


def cmd_import_areas(args: argparse.Namespace) -> int:
    _setup()
    _manage("import_areas", args.file)
    return 0


def _gunicorn_argv(bind: str, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "civicloop.wsgi:application",
        "--bind", bind, "--workers", str(workers), "--threads", "4",
        "--access-logfile", "-", "--timeout", "60",
    ]


def cmd_serve(args: argparse.Namespace) -> int:
    _setup()
    _manage("migrate", "--no-input", verbosity=0)
    _manage("collectstatic", "--no-input", verbosity=0)
    os.execv(sys.executable, _gunicorn_argv(args.bind, args.workers))
    return 0  # pragma: no cover


def cmd_worker(args: argparse.Namespace) -> int:
    _setup()
    _manage("run_worker", interval=args.interval)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    _setup()
    from django.conf import settings

    _manage("migrate", "--no-input", verbosity=0)
    _manage("load_demo")
    _manage("collectstatic", "--no-input", verbosity=0)
    env = dict(os.environ)
    worker = subprocess.Popen([sys.executable, "-m", "civicloop.cli", "worker"], env=env)
    server = subprocess.Popen(_gunicorn_argv(args.bind, 2), env=env)
    print(f"\ncivicloop demo city on http://{args.bind}  (database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]})", flush=True)
    _manage("demo_logins")
    try:
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for proc in (server, worker):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (server, worker):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["manage"]:
        return cmd_manage(argv[1:])
    parser = argparse.ArgumentParser(prog="civicloop", description="civicloop: grid governance and the GB/T 30428 case loop")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="migrate, load the demo city and serve it")
    demo.add_argument("--bind", default=os.environ.get("CIVICLOOP_BIND", "127.0.0.1:8000"))
    demo.set_defaults(func=cmd_demo)
    serve = sub.add_parser("serve", help="run the production web server (gunicorn)")
    serve.add_argument("--bind", default=os.environ.get("CIVICLOOP_BIND", "127.0.0.1:8000"))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("CIVICLOOP_WORKERS", "3")))
    serve.set_defaults(func=cmd_serve)
    worker = sub.add_parser("worker", help="run background jobs and the deadline sweeps")
    worker.add_argument("--interval", type=float, default=60.0, help="seconds between deadline sweeps")
    worker.set_defaults(func=cmd_worker)
    imp = sub.add_parser("import-areas", help="import districts … grids, compounds and back streets from GeoJSON")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_import_areas)
    sub.add_parser("manage", help="pass the rest to Django's management commands")
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
