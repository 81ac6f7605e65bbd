"""The whole local endpoint for these tests: see tests/local/conftest.py (`aws` fixture)."""

from tests.local.conftest import aws, serve_process, serve_with_aws  # noqa: F401
