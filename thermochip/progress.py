"""Progress bars for long work (tqdm). A bar shows only when asked for and when stderr is a
terminal, so CI logs and pipes stay clean."""

from __future__ import annotations


def progress_bar(total: int, enabled: bool, *, unit: str, desc: str | None = None,
                 initial: int = 0, unit_scale: bool = False):
    """A tqdm bar; disabled (a no-op with the same methods) unless ``enabled`` and a TTY."""
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, unit_scale=unit_scale,
                leave=False, dynamic_ncols=True, disable=None if enabled else True)
