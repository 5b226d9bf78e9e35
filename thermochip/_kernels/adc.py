"""The sampling ADC inside the kernels, shared by every dynamics kind: each sample averages
the read-out over the ``window`` steps that end at its state index (integrate-and-dump); the
buffer is (replica, sample, cell, readout) and the cursor the next sample."""

from __future__ import annotations

from thermochip._kernels.dispatch import readout
from thermochip._kernels.jit import scalar


@scalar
def accumulate(p, xn, ch0, ch1, adc_buf, b, s, i, adc_mode, inv_win, last):
    """Add the read-out of state xn (channels ch0, ch1: mode 0 reads them) to sample s's
    window sum; the window's last step turns the sum into the average."""
    for r in range(adc_buf.shape[3]):
        v = (ch0 if r == 0 else ch1) if adc_mode == 0 else readout(p, xn, adc_mode, r)
        acc = adc_buf[b, s, i, r] + v
        adc_buf[b, s, i, r] = acc * inv_win if last else acc


@scalar
def advance(adc_steps, s, k_end):
    """The cursor after the samples that end at or before state index k_end (every replica
    followed the same schedule: the shared cursor moves once per call)."""
    while s < adc_steps.shape[0] and adc_steps[s] <= k_end:
        s += 1
    return s
