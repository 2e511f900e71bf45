"""Property-based fuzzing of the REST API against its own OpenAPI document (issue 4, point 6).

Schemathesis loads ``/api/v1/openapi.json`` from the WSGI application in this process and
sends every operation generated requests, valid and invalid, once with a dispatcher's
token and once anonymously. Every answer must be free of server errors, carry a status the
document lists for the operation, and match the documented body. Half the generated case
ids are ids of real cases in every state, so the engine's refusals are reached too, not only
404s.

The requests run inside the test's database transaction (same thread, same connection), so
Django's "close the connection after each request" handlers are disconnected meanwhile, as
Django's own test client does. This works on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from civicloop.cases.models import Case, State
from civicloop.testing import Loop

pytestmark = pytest.mark.django_db

# Examples per operation, generation mode (valid / invalid input) and caller; the same examples
# every run unless CIVICLOOP_FUZZ_RANDOM=1 (and more with CIVICLOOP_FUZZ_EXAMPLES=N) for a deeper hunt.
MAX_EXAMPLES = int(os.environ.get("CIVICLOOP_FUZZ_EXAMPLES", "8"))
RANDOM = os.environ.get("CIVICLOOP_FUZZ_RANDOM") == "1"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
STATES = (
    State.REPORTED,
    State.REGISTERED,
    State.DISPATCHED,
    State.IN_PROGRESS,
    State.DEFERRED,
    State.HANDLED,
    State.CLOSED,
    State.RETURNED,
    State.REJECTED,
)


@pytest.fixture
def keep_connection() -> Iterator[None]:
    """Requests share the test's connection and transaction: nothing may close it."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def cases(city: Any, loop: Loop) -> list[int]:
    ids = [loop.to(state).pk for state in STATES]
    ids.append(Loop(city, t0=loop.t, grid="g4").to(State.DISPATCHED).pk)  # another district's
    return ids


@pytest.fixture(params=["dispatcher", "anonymous"])
def caller(request: pytest.FixtureRequest, token_for: Any) -> dict[str, str]:
    if request.param == "anonymous":
        return {}
    return {"Authorization": f"Bearer {token_for(request.param)}"}


@pytest.fixture
def api_schema(
    keep_connection: None,
    generous_limits: None,
    city: Any,
    cases: list[int],
    caller: dict[str, str],
) -> Any:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", WSGIHandler())

    @schema.hook("flatmap_path_parameters")
    def real_objects(context: Any, path_parameters: dict[str, Any]) -> Any:
        # Half the generated ids and codes name real cases and areas, so more than 404 is reached.
        for name, real in (("case_id", cases), ("code", AREA_CODES)):
            if path_parameters and name in path_parameters:
                values = st.sampled_from(real) | st.just(path_parameters[name])
                return values.map(lambda value, name=name: {**path_parameters, name: value})
        return st.just(path_parameters)

    @schema.hook("flatmap_case")
    def real_values(context: Any, case: Any) -> Any:
        # Half the time a body carries real values where random ones are always refused: the
        # case's current version, a known category and unit, a point inside a grid.
        body = case.body
        if not isinstance(body, dict) or not REAL_KEYS & set(body):
            return st.just(case)

        def real(use: bool) -> Any:
            if use:
                replaced = {**body, **{k: v for k, v in real_body(city, case).items() if k in body}}
                case.body = replaced
            return case

        return st.booleans().map(real)

    return schema


REAL_KEYS = {"version", "category", "unit", "lat", "lon"}
AREA_CODES = ["650102", "650102001001", "650102001001001", "650103001001001"]


def real_body(city: Any, case: Any) -> dict[str, Any]:
    lat, lon = city.point_in("g1")
    values: dict[str, Any] = {"category": "E0102", "unit": "U-CGJ", "lat": lat, "lon": lon}
    case_id = (case.path_parameters or {}).get("case_id")
    if isinstance(case_id, int):
        current = Case.objects.filter(pk=case_id).first()
        if current is not None:
            values["version"] = current.version
    return values


def _fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not RANDOM,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


def test_no_server_error_and_every_answer_as_documented(
    api_schema: Any, caller: dict[str, str]
) -> None:
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, caller)
            except Unsatisfiable:
                # No input to break (e.g. GET /categories/tree/): nothing invalid to send.
                assert mode == GenerationMode.NEGATIVE, operation.label
            except Exception as exc:  # collect them all, then fail once with every finding
                failures.append(f"{operation.label} ({mode.value}): {str(exc)[:3000]}")
    assert not failures, "\n\n".join(failures)
