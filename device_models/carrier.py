"""The carrier rotation: an interconnect delay tau at the carrier frequency f0 is a phase
offset alpha = 2 pi f0 tau on a coupler, so the I/Q signal the coupler delivers is the sent one
rotated by -alpha. With the coupler's cos part C = J cos alpha and sin part S = J sin alpha,
the received channels are

    I = C ch0 + S ch1,    Q = C ch1 - S ch0,

i.e. J [cos alpha sin(phi_j - phi_i) + sin alpha cos(phi_j - phi_i)] in an oscillator's
force: the cos part rescales the coupling, the sin part is non-reciprocal (Yeung & Strogatz
1999 for delayed Kuramoto oscillators).
"""

from __future__ import annotations

import numpy as np

from device_models.base import kernel_helper


@kernel_helper
def rotate(c0, c1, s0, s1):
    """Received (I, Q) from the sent channels weighted by the cos parts (c0 = sum C ch0,
    c1 = sum C ch1) and by the sin parts (s0 = sum S ch0, s1 = sum S ch1)."""
    return c0 + s1, c1 - s0


def mixing(cos_part, sin_part) -> dict[tuple[int, int], np.ndarray]:
    """{(k, l): M^{kl}}: received channel k takes M^{kl} times sent channel l (from
    :func:`rotate`): M^{00} = M^{11} = C, M^{01} = S, M^{10} = -S."""
    zero = np.zeros_like(cos_part)
    M = {}
    for l in range(2):
        sent = [cos_part if l == c else zero for c in range(2)]
        sent_sin = [sin_part if l == c else zero for c in range(2)]
        M[0, l], M[1, l] = rotate(sent[0], sent[1], sent_sin[0], sent_sin[1])
    return M
