"""The HTTP fixtures (a real `loupe serve` per test) serve the browser tests too."""

from tests.api.conftest import make_server, shared_cache  # noqa: F401
