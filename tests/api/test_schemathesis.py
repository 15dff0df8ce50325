"""Property-based tests of every route from the app's own OpenAPI schema (schemathesis).

The app runs with the fake answerer of ``conftest.py``, so a few hundred generated requests
take seconds. Every response must have a documented status code (never a 5xx) and content
type, and a body that matches the schema.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import (content_type_conformance, not_a_server_error,  # noqa: E402
                                 response_schema_conformance, status_code_conformance)

from api.app import create_app  # noqa: E402
from qa.config import Settings  # noqa: E402

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 40  # per operation: 10 operations, 400 requests

# The schema alone (no lifespan runs); the requests go to a started app with the fake services.
SCHEMA = schemathesis.openapi.from_dict(create_app(Settings()).openapi())
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}


def test_every_route_is_covered():
    assert len(OPERATIONS) == 10


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_every_route_keeps_its_schema(client, label):
    operation = OPERATIONS[label]

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        kwargs = case.as_transport_kwargs(base_url="http://testserver")
        response = client.request(**{k: v for k, v in kwargs.items() if k != "cookies" or v})
        case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    check()
