from tests.local.conftest import aws  # noqa: F401
