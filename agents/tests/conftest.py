"""The agents' tests: each starts with an empty agent memory of its own."""

import pytest


@pytest.fixture(autouse=True)
def fresh_memory(memory):
    return memory
