"""Shared test fixtures."""

from __future__ import annotations

import pytest

from thermochip._kernels.jit import get_num_threads, set_num_threads


@pytest.fixture
def one_thread():
    """Tiny chips run on one thread (STYLE 2.8): a parallel region per step costs more than the
    work, and much more on a loaded machine. test_bitwise_identical_across_thread_counts
    (test_engine.py) runs 1 and 2 threads and compares them bit for bit."""
    saved = get_num_threads()
    set_num_threads(1)
    yield
    set_num_threads(saved)
