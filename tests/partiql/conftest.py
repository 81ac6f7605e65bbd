from __future__ import annotations

import pytest

from tests.partiql.memory import MemoryAccess


@pytest.fixture
def access() -> MemoryAccess:
    return MemoryAccess()
