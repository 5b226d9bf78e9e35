"""The engine's Python driver: advances B replicas of a chip in chunks of steps, one compiled
call per chunk. It draws the noise (one stream per replica, so results do not depend on the
replica or thread count), runs the 1/f filter bank, records energies at chunk boundaries,
quantises the ADC samples and turns a non-finite state into a one-line error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from device_models import adc as adc_model
from thermochip._kernels.integrate import integrate, integrate_replicas
from thermochip.chip import Chip, replica_stream
from thermochip.errors import NumericalError
from thermochip.spec import NormalState, UniformState

#: Chips with at most this many cells run one time loop per replica (couplings stay in cache;
#: no barrier per step); larger ones use matrix products over all replicas each step.
#: Measured with bench/engine.py.
SMALL_CHIP = 64

#: Largest noise block (replica x step x cell elements) drawn at once: bounds memory per chunk.
MAX_BLOCK = 1 << 23


@dataclass
class AdcPlan:
    """When and how the ADC samples. ``steps``: (sample,) state index of each sample."""

    steps: np.ndarray
    window: int
    mode: int
    n_readouts: int


def adc_plan(chip: Chip, n_steps: int) -> AdcPlan | None:
    a = chip.spec.adc
    if a is None:
        return None
    dt = chip.spec.integrator.dt
    if a.sample_times is not None:
        steps = np.rint(np.asarray(a.sample_times) / dt).astype(np.int64)
    else:
        period = max(1, int(round(1.0 / (a.sample_rate * dt))))
        steps = np.arange(period, n_steps + 1, period, dtype=np.int64)
    steps = steps[(steps >= 1) & (steps <= n_steps)]
    mode = chip.model.readout_index(a.mode)
    return AdcPlan(steps=steps, window=max(1, int(round(a.window / dt))), mode=mode,
                   n_readouts=chip.model.readouts[mode][1])


@dataclass
class SimResult:
    """What a simulation returns. Axes: replica (B), cell (N), sample (S), readout (R)."""

    x: np.ndarray              # (replica, cell) final state, float64
    energy_steps: np.ndarray   # (record,) state index of each energy record
    energies: np.ndarray       # (record, replica) V of the reciprocal part, float64
    sample_steps: np.ndarray   # (sample,)
    adc_analog: np.ndarray     # (replica, sample, cell, readout) window averages, pre-ADC
    adc_codes: np.ndarray      # (replica, sample, cell, readout) uint32
    adc_values: np.ndarray     # (replica, sample, cell, readout) reconstructed, float64
    adc_saturated: np.ndarray  # (cell, readout) saturated samples, summed over replicas
    steps: int
    dt: float                  # seconds per step
    seconds: float             # wall time of the integration

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else float("inf")


def initial_state(chip: Chip, streams: list[np.random.Generator]) -> np.ndarray:
    """(replica, cell) initial states, each replica's drawn from its own stream."""
    init = chip.spec.integrator.initial_state
    if isinstance(init, UniformState):
        lo = chip.model.init_range[0] if init.low is None else init.low
        hi = chip.model.init_range[1] if init.high is None else init.high
        return np.array([g.uniform(lo, hi, chip.n) for g in streams])
    if isinstance(init, NormalState):
        return np.array([init.mean + init.std * g.standard_normal(chip.n) for g in streams])
    return np.full((len(streams), chip.n), init.value)


def simulate(chip: Chip, *, steps: int | None = None, replicas: int | None = None,
             seed: int | None = None, x0: np.ndarray | None = None,
             h_ext: np.ndarray | None = None, noise: np.ndarray | None = None,
             energy_every: int | None = None, progress: bool = False,
             layout: str = "auto") -> SimResult:
    """Advance ``replicas`` copies of ``chip`` by ``steps`` steps.

    x0: (replica, cell) initial state (default: drawn per the spec). h_ext: (replica, cell)
    input field added to field 0. noise: (replica, step, cell) injected standard normals in
    place of the streams (tests). Energies are recorded at t = 0, every ``energy_every`` steps
    and at the end. layout: "replicas" (one time loop per replica), "batched" (matrix
    products over replicas each step) or "auto" (by chip size, see SMALL_CHIP).
    """
    spec = chip.spec
    n_steps = chip.steps if steps is None else steps
    B = spec.run.replicas if replicas is None else replicas
    seed = spec.run.seed if seed is None else seed
    dtype = np.dtype(spec.run.dtype).type
    N, model = chip.n, chip.model
    streams = [replica_stream(seed, b) for b in range(B)]
    if energy_every is None:
        energy_every = spec.integrator.energy_every or max(1, n_steps // 200)

    p = model.to_kernel(chip.params, dtype)
    p64 = model.to_kernel(chip.params, np.float64)
    x = np.ascontiguousarray(initial_state(chip, streams) if x0 is None else x0, dtype=dtype)
    Jc, Js = chip.delay_matrices()
    JT = np.ascontiguousarray(Jc.transpose(0, 2, 1), dtype=dtype)
    JsT = np.ascontiguousarray(Js.transpose(0, 2, 1), dtype=dtype)
    J_energy = Jc.sum(axis=0)
    delays = chip.latency_steps.astype(np.int64)
    n_slots = int(delays.max()) + 1
    hist = np.empty((n_slots, model.n_channels, B, N), dtype=dtype)
    hist[:] = model.channels(p, x)[None]  # constant history before t = 0
    fields = np.ascontiguousarray(chip.fields, dtype=dtype)
    hx = (np.zeros((0, N), dtype=dtype) if h_ext is None
          else np.ascontiguousarray(np.broadcast_to(h_ext, (B, N)), dtype=dtype))
    gain, offset = chip.gain.astype(dtype), chip.offset.astype(dtype)
    noise_std = chip.noise_std.astype(dtype)
    dt = dtype(chip.dt)
    rates, stds = chip.flicker_poles()
    decay = np.exp(-rates * chip.dt)
    flicker_state = np.zeros((len(rates), B, 1, N))

    plan = adc_plan(chip, n_steps)
    if plan is None:
        adc_steps, win, mode, R = np.zeros(0, np.int64), 1, 0, 0
    else:
        adc_steps, win, mode, R = plan.steps, plan.window, plan.mode, plan.n_readouts
    adc_buf = np.zeros((B, len(adc_steps), N, R), dtype=dtype)
    cursor = np.zeros(1, dtype=np.int64)
    status = np.zeros(3, dtype=np.int64)
    no_drift = np.zeros((0, 0, 0), dtype=dtype)

    def energy(state):
        f0 = chip.fields[0] if h_ext is None else chip.fields[0] + hx
        return model.energy(p64, state, J_energy, f0, chip.fields[1])

    rec_steps, energies = [0], [energy(x)]
    chunk = max(1, min(energy_every, MAX_BLOCK // max(1, B * N)))
    if layout == "auto":
        layout = "replicas" if N <= SMALL_CHIP else "batched"
    step = {"replicas": integrate_replicas, "batched": integrate}[layout]
    # A zero-step call compiles (or loads from the cache) before the clock starts.
    step(p, x, hist, 0, delays, JT, JsT, fields, hx, gain, offset, noise_std, dt,
              np.zeros((B, 0, N), dtype=dtype), no_drift, adc_steps, win, mode, adc_buf, cursor,
              status)
    bar = _progress(n_steps, progress)
    t0 = time.perf_counter()
    k = 0
    while k < n_steps:
        K = min(chunk, n_steps - k, energy_every - k % energy_every)
        if noise is None:
            block = np.empty((B, K, N), dtype=dtype)
            for b, g in enumerate(streams):
                g.standard_normal(out=block[b], dtype=dtype)
        else:
            block = np.ascontiguousarray(noise[:, k:k + K], dtype=dtype)
        drift = no_drift
        if len(rates):
            drift = np.zeros((B, K, N))
            for q in range(len(rates)):
                xi = np.stack([g.standard_normal((K, N)) for g in streams])
                a = decay[q]
                y, zf = lfilter([stds[q] * np.sqrt(1 - a * a)], [1.0, -a], xi, axis=1,
                                zi=a * flicker_state[q])
                flicker_state[q] = y[:, -1:, :]
                drift += y
            drift = drift.astype(dtype)
        rc = step(p, x, hist, k, delays, JT, JsT, fields, hx, gain, offset, noise_std, dt,
                       block, drift, adc_steps, win, mode, adc_buf, cursor, status)
        if rc:
            bar.close()
            raise NumericalError(f"non-finite state at step {status[0]} (t = "
                                 f"{status[0] * spec.integrator.dt:.4g} s) in replica "
                                 f"{status[1]}, cell {status[2]}; reduce integrator.dt or the "
                                 f"coupling / noise scale")
        k += K
        if model.periodic is not None:
            np.mod(x, model.periodic, out=x)
        if k % energy_every == 0 or k == n_steps:
            rec_steps.append(k)
            energies.append(energy(x))
        bar.update(K)
    seconds = time.perf_counter() - t0
    bar.close()

    a = spec.adc
    if plan is None:
        codes = np.zeros(adc_buf.shape, dtype=np.uint32)
        values = np.zeros(adc_buf.shape)
        sat = np.zeros((N, 0), dtype=np.int64)
    else:
        adc_rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(2,))))
        codes, saturated = adc_model.quantise(adc_buf, a.bits, a.full_scale, a.noise, adc_rng)
        values = adc_model.reconstruct(codes, a.bits, a.full_scale)
        sat = saturated.sum(axis=(0, 1))
    return SimResult(x=x.astype(np.float64), energy_steps=np.array(rec_steps),
                     energies=np.array(energies), sample_steps=adc_steps,
                     adc_analog=adc_buf.astype(np.float64), adc_codes=codes, adc_values=values,
                     adc_saturated=sat, steps=n_steps, dt=spec.integrator.dt, seconds=seconds)


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress(total: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm
    # disable=None: no bar when stderr is not a terminal (CI logs, pipes)
    return tqdm(total=total, unit="step", unit_scale=True, leave=False, dynamic_ncols=True,
                disable=None)
