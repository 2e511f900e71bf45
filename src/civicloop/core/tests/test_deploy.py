"""The production settings pass Django's deployment checks and refuse to start without a secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SECRET = "k3Jx9-prod-test-" + "q" * 50


def _run_check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CIVICLOOP_") and k != "DATABASE_URL"}
    base.update({"DJANGO_SETTINGS_MODULE": "civicloop.settings.production", "CIVICLOOP_HOME": str(tmp_path)}, **env)
    return subprocess.run(
        [sys.executable, "-m", "civicloop.manage", "check", "--deploy", "--fail-level", "WARNING"],
        env=base, capture_output=True, text=True, timeout=120,
    )


def test_check_deploy_is_clean_for_the_production_settings(tmp_path):
    result = _run_check(tmp_path, CIVICLOOP_SECRET_KEY=SECRET, CIVICLOOP_ALLOWED_HOSTS="gov.example.cn")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("secret", ["", "insecure-development-key-change-me"])
def test_production_refuses_to_start_without_a_real_secret(tmp_path, secret):
    result = _run_check(tmp_path, CIVICLOOP_SECRET_KEY=secret)
    assert result.returncode != 0
    assert "CIVICLOOP_SECRET_KEY" in result.stderr
