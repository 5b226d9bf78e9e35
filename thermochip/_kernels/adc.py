"""The sampling ADC inside the kernels, shared by every dynamics kind: each sample averages
the read-out over the ``window`` steps that end at its state index (integrate-and-dump; a
window that would start before the run averages the states it has). Windows may overlap (a
sample every step with a longer window): a state adds to every sample whose window holds it.
The buffer is (replica, sample, cell, readout); the cursor is the first sample not yet
complete, and the samples end in order, so the samples open at a step are a run from it."""

from __future__ import annotations

from thermochip._kernels.dispatch import readout
from thermochip._kernels.jit import scalar


@scalar
def open_until(adc_steps, s, kn, win):
    """The end of the run of samples s, s + 1, ... whose window holds state index kn (s, the
    cursor, is the first sample ending at or after kn): s when none is open."""
    e = s
    while e < adc_steps.shape[0] and adc_steps[e] - win < kn:
        e += 1
    return e


@scalar
def accumulate(p, xn, ch0, ch1, adc_buf, b, i, adc_mode, s, e, kn, adc_steps, win, one):
    """Add the read-out of state xn (channels ch0, ch1: mode 0 reads them) at state index kn
    to the window sums of samples s .. e - 1; a sample's last step turns its sum into the
    average over its window (``one``: 1 in the buffer's dtype)."""
    for r in range(adc_buf.shape[3]):
        v = (ch0 if r == 0 else ch1) if adc_mode == 0 else readout(p, xn, adc_mode, r)
        for q in range(s, e):
            acc = adc_buf[b, q, i, r] + v
            end = adc_steps[q]
            adc_buf[b, q, i, r] = acc * (one / min(win, end)) if kn == end else acc


@scalar
def advance(adc_steps, s, k_end):
    """The cursor after the samples that end at or before state index k_end (every replica
    followed the same schedule: the shared cursor moves once per call)."""
    while s < adc_steps.shape[0] and adc_steps[s] <= k_end:
        s += 1
    return s
