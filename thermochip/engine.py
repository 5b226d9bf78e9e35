"""The engine's Python driver: advances B replicas of a chip in chunks of steps, one compiled
call per chunk. It keys the kernels' white noise (one counter-based stream per replica, so
results do not depend on the replica or thread count), runs the 1/f filter bank, records
energies at chunk boundaries, quantises the ADC samples and turns a non-finite state into a
one-line error.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from device_models import adc as adc_model
from device_models.base import snap
from thermochip._kernels import args, kind_module
from thermochip._kernels.filters import ar1
from thermochip._kernels.jit import get_num_threads
from thermochip.adc_plan import adc_plan
from thermochip.chip import Chip
from thermochip.errors import NumericalError
from thermochip.packing import (
    adjoint_matrices,
    energy_matrix,
    kernel_array,
    no_rows,
    pack_adjoint,
    pack_blocks,
    pack_dense,
    pack_rows,
)
from thermochip.progress import progress_bar
from thermochip.schedules import scaled_couplings, schedule
from thermochip.spec import NormalState, UniformState
from thermochip.streams import replica_stream

#: Largest chunk (replica x step x cell elements): bounds the memory of injected noise and
#: 1/f drift blocks.
MAX_BLOCK = 1 << 23
#: Replica x cell elements an energy record evaluates at once: the model's energy holds some
#: twenty float64 temporaries of its input, so large chips are scored a block of replicas at
#: a time.
ENERGY_BLOCK = 1 << 18


@dataclass(frozen=True)
class Correction:
    """The adjoint drive of AsymEP / Dyadic EP (Scurria et al. 2026, seed 002): each cell gets
    ``c = -2 A(r) (x - r)`` added to its drift, A the antisymmetric part of the coupling
    Jacobian at the reference state r. Built from the chip's own couplers (codes, mismatch,
    carrier phase offsets: see :func:`adjoint_matrices`), and local: the term between cells i
    and j needs only those two cells' states and their coupler. The reference is ``ref``
    (replica, cell), a state held per replica (AsymEP: the free state), or with ``twins`` the
    live midpoint of replicas b and b + B/2 (Dyadic EP's doubled state)."""

    ref: np.ndarray | None = None
    twins: bool = False


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
    steps: int                 # steps run (a settling run may have lengthened them)
    dt: float                  # seconds per step
    seconds: float             # wall time of the integration
    end_change: np.ndarray | None = None  # (replica,) channel change of the last Settle.lag

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else float("inf")


def initial_state(chip: Chip, streams: list[np.random.Generator]) -> np.ndarray:
    """(replica, cell) initial states, each replica's drawn from its own stream (rounded to
    the model's discrete states, if it has them)."""
    init = chip.spec.integrator.initial_state
    if isinstance(init, UniformState):
        lo = chip.model.init_range[0] if init.low is None else init.low
        hi = chip.model.init_range[1] if init.high is None else init.high
        x = np.array([g.uniform(lo, hi, chip.n) for g in streams])
    elif isinstance(init, NormalState):
        x = np.array([init.mean + init.std * g.standard_normal(chip.n) for g in streams])
    else:
        x = np.full((len(streams), chip.n), init.value)
    return snap(chip.model, x)


@dataclass(frozen=True)
class Settle:
    """Watch a run's end (a learner's phase). ``lag``: the steps the end's motion is measured
    over: :attr:`SimResult.end_change` is each replica's RMS change of the cells' coupling
    channels since (a soft spin's state; an oscillator's chord 2 sin(dphi / 2) ~ dphi: no
    angle is computed), read from the delay line. With ``tolerance`` (state units over
    ``lag`` steps, per replica) the run is lengthened by ``lag`` steps at a time while any
    replica's change over the ``lag`` steps before the ADC's first sample window exceeds it,
    up to ``cap`` steps in all; the ADC's samples move with the end, so they are taken after
    the chip settled."""

    lag: int
    tolerance: float | None = None
    cap: int = 0


class Engine:
    """Advances ``replicas`` copies of a chip. Keeps, across calls, each replica's random
    streams (the white noise's as a step counter) and the 1/f filter state, so a learner can
    run many short phases cheaply. It reads the chip's registers at every run: couplings are
    packed for the kernels once per register write (kept by the register, shared by every
    engine of the chip). ``layout``: one of the kind's (``thermochip._kernels.<kind>.LAYOUTS``)
    or "auto" (the kind's ``choose_layout``). Axes: replica (B), cell (N)."""

    def __init__(self, chip: Chip, *, replicas: int | None = None, seed: int | None = None,
                 layout: str = "auto", jacobian: tuple[str, Callable] | None = None):
        spec = chip.spec
        self.chip = chip
        # (name, fn): fn() gives the couplings (Jc, Js) the adjoint correction is built from;
        # default the analog values the chip applies
        self.jacobian = jacobian or ("true", chip.delay_matrices)
        self.B = spec.run.replicas if replicas is None else replicas
        self.seed = spec.run.seed if seed is None else seed
        self.dtype = np.dtype(spec.run.dtype).type
        model = chip.model
        kind = kind_module(model.kind.name)
        if layout == "auto":
            entries = (chip.couplers.count if chip.couplers.edges else
                       sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in chip.coupling_blocks()))
            layout = kind.choose_layout(chip.n, chip.couplers.count, entries,
                                        len(chip.latency_steps), self.B)
        if layout not in kind.LAYOUTS:
            raise ValueError(f"layout must be auto or one of {', '.join(kind.LAYOUTS)} "
                             f"({model.kind.name} dynamics); got {layout!r}")
        self.layout = layout
        self.kernel, self.form, self.cell_major = kind.LAYOUTS[layout]
        self._warm = False  # every run's arguments have the same types: one compile call
        methods = model.kind.methods
        self.method = methods.index(spec.integrator.method or methods[0])
        # Leimkuhler--Matthews steps read the next step's normal too
        self.noise_ahead = int(methods[self.method] == "leimkuhler_matthews")
        self.p = model.to_kernel(chip.params, self.dtype)
        self.p64 = model.to_kernel(chip.params, np.float64)
        self.n_slots = int(chip.latency_steps.max()) + 1
        self.gain = chip.gain.astype(self.dtype)
        self.offset = chip.offset.astype(self.dtype)
        self.noise_std = chip.noise_std.astype(self.dtype)
        anneal = spec.anneal
        self.schedule = schedule(anneal, model.field_names) if anneal is not None else None
        rates, self.flicker_std = chip.flicker_poles()
        self.flicker_decay = np.exp(-rates * chip.dt)
        self.reseed()

    def reseed(self) -> None:
        """Restart every random stream from the seed (same noise as a fresh engine)."""
        B, seed = self.B, self.seed
        self.streams = [replica_stream(seed, b) for b in range(B)]  # initial states
        # white noise: replica b's normal number (step * N + cell) of stream noise_keys[b]
        self.noise_keys = np.array([np.random.SeedSequence(seed, spawn_key=(4, b))
                                    .generate_state(1, np.uint64)[0] for b in range(B)])
        self.noise_step = 0
        # 1/f increments come from their own streams, so how a run is cut into chunks cannot
        # change which normals feed the white noise
        self.flicker_streams = [replica_stream(seed, b, purpose=3) for b in range(B)]
        self.adc_rng = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(2,))))
        # each pole starts from its stationary law, so the 1/f noise is stationary from t = 0
        P = len(self.flicker_decay)
        self.flicker_state = np.stack(
            [self.flicker_std[:, None, None] * g.standard_normal((P, 1, self.chip.n))
             for g in self.flicker_streams], axis=1)

    @property
    def couplings(self) -> tuple:
        """The kernels' coupling arguments in the form the kind reads, for this layout and
        precision (:func:`thermochip.packing.pack_blocks` or :func:`~thermochip.packing.
        pack_rows`), packed once per coupling write."""
        chip, transposed, dtype = self.chip, not self.cell_major, self.dtype

        def build():
            if self.form == "blocks" and chip.couplers.edges:  # neighbour lists, no blocks
                lists = args.Neighbours(*pack_rows(chip, dtype, classes=False))
                return args.Couplings(np.zeros((0, 8), dtype=np.int64), np.zeros(0, dtype),
                                      np.zeros(0, dtype), lists)
            if self.form == "blocks":
                return args.Couplings(*pack_blocks(chip, *chip.delay_matrices(), dtype,
                                                   transposed),
                                      args.Neighbours(*no_rows(chip.n, dtype)))
            if np.any(chip.alpha):
                raise ValueError(f"the {self.form} coupling form of {chip.model.kind.name} "
                                 f"dynamics carries no carrier rotation")
            if self.form == "rows":
                return args.Neighbours(*pack_rows(chip, dtype))
            return args.Dense(*pack_dense(chip, dtype))
        return chip.registers.couplings.derived((self.form, transposed, dtype), build)

    @property
    def J_energy(self) -> np.ndarray:
        """The energy's couplings: the reciprocal part (the whole of a reciprocal chip's)."""
        return self.chip.registers.couplings.derived("J_energy",
                                                     lambda: energy_matrix(self.chip))

    @property
    def adjoint(self) -> tuple:
        """The kernel's correction arguments (see :func:`adjoint_matrices`) from the couplings
        of :attr:`jacobian`, built on first use after a coupling write."""
        chip, transposed = self.chip, not self.cell_major

        name, matrices = self.jacobian

        def build():
            pairs, Q = adjoint_matrices(chip.model, *matrices())
            qblocks, Qflat = pack_adjoint(chip, Q, self.dtype, transposed)
            return qblocks, pairs, Qflat
        return chip.registers.couplings.derived(("adjoint", name, transposed, self.dtype),
                                                build)

    @property
    def reciprocal(self) -> bool:
        """No coupling term breaks reciprocity: the coupling Jacobian is symmetric (A = 0)."""
        return len(self.adjoint[1]) == 0

    def _no_correction(self) -> tuple:
        """Empty correction arguments of the kernels' types: the kernels skip the correction."""
        return (np.zeros((0, 5), dtype=np.int64), np.zeros((0, 2), dtype=np.int64),
                np.zeros((0, 0), dtype=self.dtype))

    def initial_state(self) -> np.ndarray:
        return initial_state(self.chip, self.streams)

    def state_blob(self) -> np.ndarray:
        """Every random stream and the 1/f filter state, as bytes (for checkpoints)."""
        state = {"streams": [g.bit_generator.state for g in self.streams],
                 "noise_step": self.noise_step,
                 "flicker_streams": [g.bit_generator.state for g in self.flicker_streams],
                 "adc": self.adc_rng.bit_generator.state,
                 "flicker": self.flicker_state.tolist()}
        return np.frombuffer(json.dumps(state).encode(), dtype=np.uint8)

    def load_state_blob(self, blob: np.ndarray) -> None:
        state = json.loads(bytes(np.asarray(blob, dtype=np.uint8)).decode())
        for g, s in zip(self.streams + self.flicker_streams,
                        state["streams"] + state["flicker_streams"]):
            g.bit_generator.state = s
        self.adc_rng.bit_generator.state = state["adc"]
        self.noise_step = state["noise_step"]
        self.flicker_state = np.array(state["flicker"]).reshape(self.flicker_state.shape)

    def _flicker(self, K: int) -> np.ndarray:
        """(replica, step, cell) 1/f force noise for the next K steps: exact AR(1) updates of
        each Ornstein--Uhlenbeck pole, summed. Normals are drawn step-major (step, pole, cell),
        so the sequence does not depend on how the run is cut into chunks."""
        B, N, P = self.B, self.chip.n, len(self.flicker_decay)
        xi = np.stack([g.standard_normal((K, P, N)) for g in self.flicker_streams])
        drift = np.zeros((B, K, N))
        y = np.empty((B, K, N))
        for q, a in enumerate(self.flicker_decay):
            ar1(np.ascontiguousarray(xi[:, :, q]), self.flicker_std[q] * np.sqrt(1 - a * a), a,
                np.ascontiguousarray(self.flicker_state[q][:, 0]), y)
            self.flicker_state[q] = y[:, -1:, :]
            drift += y
        return drift

    def run(self, steps: int | None = None, *, x0: np.ndarray | None = None,
            h_ext: np.ndarray | None = None, noise: np.ndarray | None = None,
            sample_steps: np.ndarray | None = None, energy_every: int | None = None,
            progress: bool = False, correction: Correction | None = None,
            settle: Settle | None = None) -> SimResult:
        """Advance all replicas by ``steps`` (default: the spec's).

        x0: (replica, cell) initial state (default: drawn per the spec). h_ext: (replica, cell)
        or (cell,) field added to field 0 (inputs, nudges), or (2, replica, cell) added to both
        fields (analog drives, not DAC writes). noise: (replica, step, cell) injected standard
        normals in place of the streams (tests). sample_steps: state indices (1..steps) the
        ADC samples at, in place of the spec's schedule. Energies are recorded at t = 0, every
        ``energy_every`` steps and at the end; ``energy_every=0`` records none (a learner's
        short phases need no energies, and each record costs a matrix product). correction:
        the AsymEP / Dyadic EP adjoint drive (:class:`Correction`); nothing on a reciprocal
        chip, whose A is zero. settle: watch (and lengthen) the run's end (:class:`Settle`).
        """
        chip, spec, model, dtype = self.chip, self.chip.spec, self.chip.model, self.dtype
        B, N, cell_major = self.B, chip.n, self.cell_major
        n_steps = chip.steps if steps is None else steps
        if energy_every is None:
            energy_every = spec.integrator.energy_every or max(1, n_steps // 200)
        record = energy_every > 0
        energy_every = energy_every if record else n_steps
        # wrong shapes would make the kernels read past their arrays: refuse them here
        _check_shape("x0", x0, (B, N))
        _check_shape("noise", noise, (B, n_steps + self.noise_ahead, N))
        if h_ext is not None and np.shape(h_ext) not in ((B, N), (N,), (2, B, N)):
            raise ValueError(f"h_ext must have shape {(B, N)}, {(N,)} or {(2, B, N)}; got "
                             f"{np.shape(h_ext)}")
        if settle is not None and settle.tolerance is not None and noise is not None:
            raise ValueError("a settling run cannot be lengthened past an injected noise block")
        if correction is not None and correction.twins and B % 2:
            raise ValueError(f"twin replicas need an even replica count; got {B}")
        if correction is not None and not correction.twins and np.shape(correction.ref) != (B, N):
            raise ValueError(f"correction.ref must have shape {(B, N)} (or use twins); got "
                             f"{np.shape(correction.ref)}")
        # a copy: the kernels update the state in place, and x0 is the caller's
        x = np.array(self.initial_state() if x0 is None else x0, dtype=dtype, order="C")
        if cell_major:
            x = np.ascontiguousarray(x.T)
        p = self.p
        # the delay line; a settling watch reads the state of lag steps ago from it, so it
        # holds at least lag + 1 states (a longer ring changes no value the kernels compute)
        slots = self.n_slots if settle is None else max(self.n_slots, settle.lag + 1)
        hist = np.empty((slots, model.n_channels) + x.shape, dtype=dtype)  # kernel-filled
        fields = kernel_array(chip.fields, dtype)
        # (field, replica, cell) field changes; the kernels skip an absent field 1
        if h_ext is None:
            given = np.zeros((0, B, N))
        elif np.ndim(h_ext) == 3:
            given = h_ext if np.any(h_ext[1]) else h_ext[:1]
        else:
            given = np.broadcast_to(h_ext, (1, B, N))
        hx = kernel_array(given.transpose(0, 2, 1) if cell_major else given, dtype)
        dt = dtype(chip.dt)
        if correction is None:  # an empty pair list switches the correction off
            adjoint = self._no_correction()
            xref, twin = np.zeros((0, 0), dtype=dtype), 0
        else:
            adjoint = self.adjoint
            twin = B // 2 if correction.twins else 0
            xref = (np.zeros((0, 0)) if correction.twins else
                    np.mod(correction.ref, model.periodic) if model.periodic else correction.ref)
            xref = kernel_array(xref.T if cell_major and not correction.twins else xref, dtype)
        adjoint = args.Adjoint(*adjoint, xref, twin, dtype(model.periodic or 0.0), dtype(0.5))

        plan = adc_plan(chip, n_steps)
        if plan is not None and sample_steps is not None:
            plan.steps = np.array(sample_steps, dtype=np.int64)  # a copy: settling moves it
        if plan is None:
            adc_steps, win, mode, R = np.zeros(0, np.int64), 1, 0, 0
        else:
            adc_steps, win, mode, R = plan.steps, plan.window, plan.mode, plan.n_readouts
        adc_buf = np.zeros((B, len(adc_steps), N, R), dtype=dtype)
        adc = args.Adc(adc_steps, win, mode, adc_buf, np.zeros(1, dtype=np.int64))
        status = np.zeros(3, dtype=np.int64)
        no_drift = np.zeros((0, 0, 0), dtype=dtype)
        couplings = self.couplings
        cells = args.Cells(fields, hx, self.gain, self.offset, self.noise_std)
        threads = get_num_threads()
        energy_fields, energy_gain = chip.fields, 1.0  # float64: what the energies read

        def drive(k):
            """The kernels' cells and couplings for the step from state index k: annealed
            drives step by step (each step's values at its start)."""
            nonlocal energy_fields, energy_gain
            energy_fields, amplitude, energy_gain = self.schedule.drives(
                (self.noise_step + k) * spec.integrator.dt, chip, chip.fields, self.noise_std)
            return (args.Cells(kernel_array(energy_fields, dtype), hx, self.gain,
                               self.offset, amplitude),
                    scaled_couplings(self.couplings, energy_gain))

        if self.schedule is not None:
            cells, couplings = drive(0)

        def state():
            """(replica, cell) view of the state."""
            return x.T if cell_major else x

        def energy():
            J, s, rows = self.J_energy * energy_gain, state(), max(1, ENERGY_BLOCK // N)
            parts = []
            with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is reported below
                for a in range(0, B, rows):
                    f = [energy_fields[k] + (given[k][a:a + rows] if k < len(given) else 0.0)
                         for k in (0, 1)]
                    parts.append(model.energy(self.p64, s[a:a + rows], J, *f))
            return np.concatenate(parts)

        rec_steps, energies = ([0], [energy()]) if record else ([], [])
        # only an injected noise block or a 1/f drift block is held in memory per chunk
        blocks = noise is not None or len(self.flicker_decay) > 0
        chunk = max(1, min(energy_every, MAX_BLOCK // max(1, B * N))) if blocks else energy_every
        no_noise = np.zeros((0, 0, 0), dtype=dtype)
        if not self._warm:  # a zero-step call compiles (or loads) before the clock starts
            warm = args.Steps(0, 0, dt, self.method, threads)
            self.kernel(p, x, hist, warm, couplings, cells,
                        args.Noise(no_noise, self.noise_keys, 0, no_drift), adc, adjoint, status)
            self._warm = True
        bar = progress_bar(n_steps, progress, unit="step", unit_scale=True)

        def change(k, lag):
            """(replica,) RMS over cells of the channel change from state index k - lag to k,
            both still in the delay line."""
            d = hist[k % slots].astype(np.float64) - hist[(k - lag) % slots]
            return np.sqrt((d * d).sum(axis=0).mean(axis=0 if cell_major else 1))

        def check_step():
            """Where a settling run may be lengthened: lag before its end, and before the
            ADC's first window (None: it is watched only)."""
            if settle is None or settle.tolerance is None:
                return None
            first = adc_steps[0] - win if len(adc_steps) else n_steps
            return max(0, min(n_steps - settle.lag, first))

        def watch(k):
            """At the check, lengthen the run by lag steps while any replica still moves."""
            nonlocal n_steps
            if k == check_step() and n_steps + settle.lag <= settle.cap \
                    and change(k, settle.lag).max() > settle.tolerance:
                n_steps += settle.lag
                adc_steps[:] += settle.lag
                bar.total = n_steps

        t0 = time.perf_counter()
        k = 0
        while k < n_steps:
            natural = min(chunk, n_steps - k, energy_every - k % energy_every)
            if self.schedule is not None:  # one step a call: each at its own drives
                natural = 1
                cells, couplings = drive(k)
            check = check_step()
            K = natural if check is None or check <= k else min(natural, check - k)
            block = (no_noise if noise is None else
                     kernel_array(noise[:, k:k + K + self.noise_ahead], dtype))
            drift = self._flicker(K).astype(dtype) if len(self.flicker_decay) else no_drift
            rc = self.kernel(p, x, hist, args.Steps(k, K, dt, self.method, threads), couplings,
                             cells, args.Noise(block, self.noise_keys, self.noise_step + k, drift),
                             adc, adjoint, status)
            if rc:
                bar.close()
                raise NumericalError(f"non-finite state at step {status[0]} (t = "
                                     f"{status[0] * spec.integrator.dt:.4g} s) in replica "
                                     f"{status[1]}, cell {status[2]}; reduce integrator.dt or "
                                     f"the coupling / noise scale")
            k += K
            if model.periodic is not None and K == natural:  # a settling check keeps the bits
                np.mod(x, model.periodic, out=x)
            watch(k)
            if record and (k % energy_every == 0 or k == n_steps):
                rec_steps.append(k)
                energies.append(energy())
            bar.update(K)
        seconds = time.perf_counter() - t0
        bar.close()
        if noise is None:
            self.noise_step += n_steps

        a = spec.adc
        if plan is None:
            codes = np.zeros(adc_buf.shape, dtype=np.uint32)
            values = np.zeros(adc_buf.shape)
            sat = np.zeros((N, 0), dtype=np.int64)
        else:
            codes, saturated = adc_model.quantise(adc_buf, a.bits, a.full_scale, a.noise,
                                                  self.adc_rng)
            values = adc_model.reconstruct(codes, a.bits, a.full_scale)
            sat = saturated.sum(axis=(0, 1))
        return SimResult(x=state().astype(np.float64), energy_steps=np.array(rec_steps),
                         energies=np.array(energies).reshape(len(rec_steps), B),
                         sample_steps=adc_steps,
                         adc_analog=adc_buf.astype(np.float64), adc_codes=codes,
                         adc_values=values, adc_saturated=sat, steps=n_steps,
                         dt=spec.integrator.dt, seconds=seconds,
                         end_change=None if settle is None else change(n_steps, settle.lag))


def _check_shape(name: str, array, shape: tuple) -> None:
    if array is not None and np.shape(array) != shape:
        raise ValueError(f"{name} must have shape {shape}; got {np.shape(array)}")


def simulate(chip: Chip, *, steps: int | None = None, replicas: int | None = None,
             seed: int | None = None, x0: np.ndarray | None = None,
             h_ext: np.ndarray | None = None, noise: np.ndarray | None = None,
             energy_every: int | None = None, progress: bool = False,
             layout: str = "auto") -> SimResult:
    """One simulation of ``replicas`` copies of ``chip`` (see :class:`Engine` and
    :meth:`Engine.run`). layout: one of the dynamics kind's ``LAYOUTS`` ("batched": matrix
    products over replicas each step; "replicas": one loop per replica, or for p-bits
    neighbour lists) or "auto" (the kind's ``choose_layout``)."""
    engine = Engine(chip, replicas=replicas, seed=seed, layout=layout)
    return engine.run(steps, x0=x0, h_ext=h_ext, noise=noise, energy_every=energy_every,
                      progress=progress)
