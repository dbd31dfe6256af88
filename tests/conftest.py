from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

#: The real poster collection, beside the project (never copied into it).
SHARED_POSTERS = Path(__file__).resolve().parents[1].parent / "shared" / "posters"


@pytest.fixture
def shared_posters():
    """Path of ../shared/posters; skips the test when the folder is absent."""
    if not (SHARED_POSTERS / "genres.csv").is_file():
        pytest.skip(f"real posters not found at {SHARED_POSTERS}")
    return SHARED_POSTERS


@pytest.fixture(autouse=True, scope="session")
def one_blas_thread():
    """Small fits spend more time waking BLAS threads than computing on 2 busy cores."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield
