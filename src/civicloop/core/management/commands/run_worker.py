"""``civicloop worker``: the queued jobs (django-tasks database backend) plus the deadline sweeps.

No extra server: the database is the queue. Several workers may run; jobs are
claimed with row locks by django-tasks-db and the sweeps are idempotent.
"""

from __future__ import annotations

import logging
import signal
import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils.crypto import get_random_string

log = logging.getLogger("civicloop.worker")


class Command(BaseCommand):
    help = "Run background jobs and the deadline sweeps (reminders, urging, escalation, look-backs)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--interval", type=float, default=60.0, help="Seconds between deadline sweeps.")
        parser.add_argument("--poll", type=float, default=1.0, help="Seconds between queue polls when idle.")
        parser.add_argument("--once", action="store_true", help="Drain the queue and sweep once, then exit.")

    def handle(self, *args: Any, interval: float, poll: float, once: bool, **options: Any) -> None:
        from django.conf import settings
        from django.utils.module_loading import import_string
        from django_tasks_db.management.commands.db_worker import Worker

        from civicloop.cases.sweeps import sweep

        # Housekeeping run after every sweep (retries, pruning): each returns how much it did.
        periodic = [(path, import_string(path)) for path in settings.CIVICLOOP["PERIODIC_JOBS"]]

        running = {"on": True}

        def stop(signum: int, frame: Any) -> None:
            running["on"] = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        worker_id = get_random_string(16)
        queue = Worker(
            queue_names=["*"], interval=0, batch=True, backend_name="default", startup_delay=False,
            max_tasks=None, worker_id=worker_id, excluded_queue_names=[],
        )
        self.stdout.write(f"civicloop worker {worker_id}: sweeping every {interval:.0f}s")
        next_sweep = 0.0
        while running["on"]:
            close_old_connections()
            queue.run()  # batch mode: runs every ready job, then returns
            if time.monotonic() >= next_sweep:
                result = sweep()
                log.info("sweep: %s", result)
                if any(result.__dict__.values()):
                    self.stdout.write(f"sweep: {result.__dict__}")
                for path, job in periodic:
                    done = job()
                    if done:
                        self.stdout.write(f"{path}: {done}")
                next_sweep = time.monotonic() + interval
            if once:
                queue.run()
                break
            time.sleep(poll)
