"""Progress bars for long work (tqdm). A bar shows only when asked for and when stderr is a
terminal, so CI logs and pipes stay clean."""

from __future__ import annotations

import functools


def progress_bar(total: int, enabled: bool, *, unit: str, desc: str | None = None,
                 initial: int = 0, unit_scale: bool = False):
    """A tqdm bar; disabled (a no-op with the same methods) unless ``enabled`` and a TTY."""
    if not enabled:
        return _disabled()
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, unit_scale=unit_scale,
                leave=False, dynamic_ncols=True, disable=None)


@functools.lru_cache(maxsize=1)
def _disabled():
    """One shared disabled bar: building a tqdm costs ~0.1 ms, and a learner's engine runs
    three phases per batch."""
    from tqdm import tqdm
    return tqdm(disable=True)
