import pytest

import labrt


@pytest.fixture
def rt():
    """A runtime of the test's own, shut down after it."""
    runtime = labrt.Runtime()
    yield runtime
    runtime.shutdown()
