r"""Equilibrium Propagation on the chip: the circuit the EP rules share (``ep``, ``asymep``,
``dyadic``; each rule module supplies its estimator).

Phases (a global phase signal switches the nudge circuit on the output cells):

1. **free**: inputs drive the first layer through the input couplers; the chip runs
   ``free_steps``;
2. **nudged** with +beta (and -beta for the symmetric / centered estimators), each started
   from the free state: the output loss (``learner.loss``, :mod:`thermochip.learn.losses`;
   squared error l = 1/2 (readout - y)^2, y = +1 for the label's output cell and -1 for the
   others, is the model's ``nudge``: oim dh = beta y, dS = -beta/2; softspin db = -beta y,
   da = beta) is added to V as a field change, for ``nudged_steps``.

In each phase, every coupler's accumulator time-averages its local term dV/dJ_ij (the model's
pair term; oim: -(I_i I_j + Q_i Q_j); softspin: x_i x_j) over the ADC samples taken in the
last ``window`` steps (the ADC's clock, ``adc.sample_rate``, counted back from the phase's
end; each sample its own ``adc.window`` average, quantised to ``adc.bits`` with its noise),
and over the ``update_every`` samples of the batch (run as replicas); input
couplers average pixel_p * dV/dh_i, field registers dV/dh_i. The estimator turns the
accumulators into an estimate of dL/dtheta; the update -lr * estimate is written through the
DACs (:mod:`thermochip.learn.writers`).

With noise, time averages over a phase estimate E_{p_beta}[dV/dtheta], and the difference is
the exact gradient of the free-energy difference for any finite beta (Litman 2025, seed 001).
Scellier & Bengio 2017; Laborieux et al. 2021 (symmetric nudging); Gower 2025 (OIM form).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np

from device_models.params import NON_NEGATIVE, POSITIVE, Interval, OneOf, spec_field
from thermochip.chip import Chip
from thermochip.engine import Engine
from thermochip.learn import losses
from thermochip.learn.base import AbstractLearner
from thermochip.learn.settling import SettleSpec, SettlingMonitor, settle_problems
from thermochip.learn.writers import DacWriter, WriteSpec
from thermochip.spec import ChipSpec, Layered
from thermochip.streams import derived_seed, rng_blob, set_rng_blob


@dataclass(frozen=True, kw_only=True)
class EpSection:
    """The fields every EP rule's spec section has (each rule's section names its rule)."""

    #: The output nudge takes real targets as well as labels (data.task: regression).
    takes_regression = True

    rule: str
    estimator: str = spec_field("symmetric", doc="one_sided: +beta only; symmetric and "
                                                 "centered: +beta and -beta (asymep and "
                                                 "dyadic: always centered)",
                                check=OneOf(("one_sided", "symmetric", "centered")))
    beta: float = spec_field(0.5, doc="nudge strength", check=POSITIVE)
    free_steps: int = spec_field(20, doc="free-phase steps", check=Interval(1, None))
    nudged_steps: int = spec_field(4, doc="steps of each nudged phase", check=Interval(1, None))
    window: int = spec_field(1, doc="steps at the end of each phase whose ADC samples the "
                                    "accumulators average (adc.sample_rate sets how many)",
                             check=Interval(1, None))
    lr: list[float] = spec_field(default_factory=lambda: [0.05],
                                 doc="learning rate per coupling layer (input->first, then "
                                     "layer to layer); one value for all (write.step adam: "
                                     "the step per write, in coupling units)")
    lr_fields: float = spec_field(0.0, doc="learning rate of the field registers (h)",
                                  check=NON_NEGATIVE)
    lr_sync: float = spec_field(0.0, doc="learning rate of the second field's registers (oim: "
                                         "the injection strength S, Gower's syncs; softspin: "
                                         "a)", check=NON_NEGATIVE)
    update_every: int = spec_field(20, doc="samples accumulated (run as replicas) before one "
                                           "DAC write", check=Interval(1, None))
    write: WriteSpec = spec_field(default_factory=WriteSpec, doc="DAC write")
    loss: str = spec_field("squared_error", doc="the output nudge's loss: squared_error "
                                                "(read-out against +-1 targets) or "
                                                "cross_entropy (softmax of the read-outs)",
                           check=OneOf(losses.LOSSES))
    softmax_gain: float = spec_field(4.0, doc="cross_entropy: the logits are this gain times "
                                              "the outputs' read-outs (in [-1, 1])",
                                     check=POSITIVE)
    settle: SettleSpec | None = spec_field(None, doc="lengthen each phase until the chip "
                                                     "stops moving (null: fixed steps)")


def ep_problems(section: EpSection, spec: ChipSpec, model, params,
                data_shape: tuple[str, int, int] | None) -> list[tuple[str, str]]:
    """What every EP rule needs: a layered chip with inputs (the data's pixels, one output
    cell per class), a learning rate per coupling layer, an ADC reading the coupling channels,
    cells that take the nudge. ``data_shape``: (data set, pixels, classes), or None."""
    out = []
    cells, rule = spec.cells, section.rule
    layered = isinstance(spec.topology, Layered)
    if data_shape is not None:
        dataset, pixels, classes = data_shape
        if not layered or cells.inputs != pixels:
            out.append(("cells.inputs", f"EP on {dataset} needs a layered chip with inputs: "
                                        f"{pixels}"))
        elif cells.layers[-1] != classes:
            out.append(("cells.layers", f"the last layer needs one cell per class or "
                                        f"regression target ({classes})"))
    elif not layered or cells.inputs < 1:
        out.append(("topology", f"learner {rule} needs a layered chip with inputs (topology: "
                                f"layered, cells.inputs)"))
    if layered and cells.layers and len(section.lr) not in (1, len(cells.layers)):
        out.append(("learner.lr", f"1 or {len(cells.layers)} values (input couplers, then "
                                  f"each pair of adjacent layers)"))
    modes = [model.readouts[0][0]] + ([model.state_readout] if model.state_readout else [])
    mode = spec.adc.mode or model.readouts[0][0] if spec.adc is not None else None
    if mode not in modes:
        out.append(("adc.mode" if spec.adc is not None else "adc",
                    f"EP reads the coupling channels: give an adc with mode "
                    f"{' or '.join(modes)}"))
    elif mode == model.state_readout and model.periodic is not None:
        if spec.adc.full_scale < model.periodic / 2:
            out.append(("adc.full_scale", f"a {mode} read-out spans one period: full_scale "
                                          f"must be at least {model.periodic / 2:.10g}"))
        if spec.adc.window_steps(spec.integrator.dt) > 1:
            # a window would average wrapped angles: near the wrap, -pi and pi average to 0
            out.append(("adc.window", f"a {mode} read-out samples the state at one instant: "
                                      f"give a window of at most one step (integrator.dt)"))
    refusal = model.nudge_refusal(params)
    if refusal:
        out.append(("cells.params", refusal))
    return out + adc_schedule_problems(section, spec) + settle_problems(spec, model, section)


def adc_schedule_problems(section: EpSection, spec: ChipSpec) -> list[tuple[str, str]]:
    """The accumulators average the samples the ADC takes in each phase's last ``window``
    steps: the ADC must sample on a clock (not at fixed times of one run), and every phase's
    window must hold at least one sample."""
    a = spec.adc
    if a is None:
        return []
    phases = [n for n in ("free_steps", "nudged_steps") if getattr(section, n) is not None]
    for name in phases:
        if section.window > getattr(section, name):
            return [("learner.window", f"{section.window} steps is longer than the phase it "
                                       f"averages (learner.{name}: "
                                       f"{getattr(section, name)})")]
    if a.sample_times is not None:
        return [("adc.sample_times", "learners sample on the ADC's clock in every phase: give "
                                     "adc.sample_rate (sample_times are times of one "
                                     "simulate run)")]
    dt = spec.integrator.dt
    period = a.period_steps(dt)
    shortest = min([section.window] + [getattr(section, n) for n in phases])
    if period > shortest:
        return [("learner.window", f"holds no ADC sample: the ADC samples every {period} "
                                   f"steps (adc.sample_rate {a.sample_rate:g} Hz at dt "
                                   f"{dt:g} s) and the shortest phase window is {shortest} "
                                   f"steps")]
    return []


def phase_samples(spec: ChipSpec, section: EpSection, steps: int) -> np.ndarray:
    """State indices (1..steps) of the ADC samples in the last ``section.window`` steps of a
    phase of ``steps`` steps, on the ADC's clock counted back from the phase's end."""
    period = spec.adc.period_steps(spec.integrator.dt)
    return np.arange(steps, steps - section.window, -period)[::-1].copy()


class AbstractEstimator(abc.ABC):
    """How an EP rule runs the nudged phases and turns them into an estimate of dL/dtheta."""

    @abc.abstractmethod
    def betas(self, section: EpSection) -> tuple[float, ...]:
        """The nudges of the nudged phases (run side by side as replicas)."""

    @abc.abstractmethod
    def gradient(self, circuit: EpCircuit, pixels: np.ndarray,
                 labels: np.ndarray) -> dict[str, np.ndarray]:
        """The estimate of dL/dtheta for every register (see :meth:`EpCircuit.gradient`)."""

    @abc.abstractmethod
    def coupler_terms(self, circuit: EpCircuit, ch: np.ndarray) -> dict[str, np.ndarray]:
        """Each coupler register's accumulator from channel samples ch (channel, sample,
        cell)."""

    #: (name, fn) the nudged phases' adjoint correction is built from (None: the chip's own)
    jacobian = None

    def report(self) -> dict:
        """What the estimator measured before training (empty: nothing)."""
        return {}


class EpCircuit(AbstractLearner):
    """EP accumulators next to every coupler of a layered chip (see the module docstring),
    with the phases and update of ``estimator``."""

    def __init__(self, chip: Chip, n_classes: int, estimator: AbstractEstimator):
        spec = chip.spec
        cfg: EpSection = spec.learner
        self.chip, self.cfg, self.model, self.estimator = chip, cfg, chip.model, estimator
        self.n_classes = n_classes
        self.out = slice(chip.n - n_classes, chip.n)
        n_layers = len(spec.cells.layers)
        self.lr_layers = list(cfg.lr) * (n_layers if len(cfg.lr) == 1 else 1)
        self.blocks = coupler_blocks(chip)
        self.p64 = chip.model.to_kernel(chip.params, np.float64)
        self.state_read = (spec.adc.mode is not None
                           and spec.adc.mode == chip.model.state_readout)
        self.monitor = SettlingMonitor(chip, cfg)
        self.train_engine = Engine(chip, replicas=cfg.update_every)
        # the nudged phases of a batch run side by side: +beta on replicas 0..B-1 and, for the
        # symmetric estimators, -beta on B..2B-1 (one call, twice the parallel work)
        self.betas = estimator.betas(cfg)
        self.nudge_engine = Engine(chip, replicas=len(self.betas) * cfg.update_every,
                                   seed=derived_seed(spec.run.seed, "nudge"),
                                   jacobian=estimator.jacobian) if self.betas else None
        self.eval_engine = Engine(chip, replicas=spec.train.eval_replicas,
                                  seed=derived_seed(spec.run.seed, "eval"))
        registers, w = chip.registers, cfg.write
        self.writers = {name: DacWriter(reg.codes, reg.dac.bits, reg.dac.full_scale, w, chip.rng)
                        for name, reg in (("coupling", registers.couplings),
                                          ("input", registers.inputs),
                                          ("field", registers.fields))}

    # -- the phases ----------------------------------------------------------------------------
    def phase(self, kind: str, engine: Engine, steps: int, x0, h_ext, correction=None):
        """Run one phase (``kind``: free or nudged; its end's motion is recorded); return the
        final state (for the next phase's start, inside the chip) and the ADC channel samples
        (replica, sample, cell, channel) of its last window."""
        samples = phase_samples(self.chip.spec, self.cfg, steps)
        r = engine.run(steps, x0=x0, h_ext=h_ext, sample_steps=samples, energy_every=0,
                       correction=correction, settle=self.monitor.settle(kind))
        self.monitor.record(kind, r)
        return r.x, self.channel_samples(r.adc_values)

    def channel_samples(self, values: np.ndarray) -> np.ndarray:
        """The coupling channels (replica, sample, cell, channel) the accumulators read from
        ADC values (replica, sample, cell, readout): the values themselves when the ADC reads
        the channels; with a state read-out (oim phase) the channels each cell's local circuit
        forms from its quantised state samples (cos and sin of the quantised angle)."""
        if not self.state_read:
            return values
        return np.moveaxis(self.model.channels(self.p64, values[..., 0]), 0, -1)

    def free(self, pixels: np.ndarray):
        """The free phase of ``pixels``: (input field, final state, ADC samples)."""
        engine = self.train_engine
        h_in = self.chip.input_field(pixels)
        x_free, U_free = self.phase("free", engine, self.cfg.free_steps,
                                    engine.initial_state(), h_in)
        return h_in, x_free, U_free

    def nudged(self, x_free, h_in, labels, U_free, correction=None) -> list[np.ndarray]:
        """The ADC samples of each nudged phase (one per beta of :attr:`betas`), all started
        from the free state ``x_free`` and run as one call of the nudge engine; the output
        circuit nudges toward ``labels`` with the loss ``learner.loss``, read (where it needs
        to) from the free phase's samples ``U_free``."""
        n = len(self.betas)
        readout = U_free[:, :, self.out, 0].mean(axis=1)  # what the host would read
        h = np.concatenate([self.nudged_fields(h_in, b, labels, readout) for b in self.betas],
                           axis=1)
        _, U = self.phase("nudged", self.nudge_engine, self.cfg.nudged_steps,
                          np.concatenate([x_free] * n), h, correction)
        return np.split(U, n)

    def nudged_fields(self, h_in: np.ndarray, beta: float, labels: np.ndarray,
                      readout: np.ndarray) -> np.ndarray:
        """(field, replica, cell) field changes of a nudged phase: the inputs' field plus the
        output nudge circuit's change of both fields (adds beta * loss to V)."""
        df0, df1 = losses.nudge(self.model, self.p64, self.cfg.loss, self.cfg.softmax_gain,
                                beta, labels, readout)
        h = np.zeros((2,) + h_in.shape)
        h[0] = h_in
        h[0][:, self.out] += df0
        h[1][:, self.out] = df1
        return h

    # -- the accumulators ----------------------------------------------------------------------
    def accumulate(self, U: np.ndarray, pixels: np.ndarray) -> dict[str, np.ndarray]:
        """Accumulators of one phase from its ADC samples U (replica, sample, cell, channel):
        the time and batch average of each register's local term."""
        return self._registers(self._local_terms(U), pixels)

    def contrast(self, U_a, U_b, pixels: np.ndarray, scale: float) -> dict[str, np.ndarray]:
        """scale * (accumulators of phase a - those of phase b). The field and input registers'
        accumulators are linear in the cells' field terms, so the difference is taken there
        first: one (input x replica x cell) product, not two."""
        a, b = self._local_terms(U_a), self._local_terms(U_b)
        return self._registers({k: scale * (a[k] - b[k]) for k in a}, pixels)

    def _local_terms(self, U: np.ndarray) -> dict[str, np.ndarray]:
        """The coupler accumulators and ``g`` (field, replica, cell), each cell's time-averaged
        dV/df_k, of one phase's ADC samples U (replica, sample, cell, channel)."""
        model, p = self.model, self.p64
        B, S = U.shape[:2]
        terms = self.estimator.coupler_terms(
            self, np.moveaxis(U.reshape(B * S, self.chip.n, -1), -1, 0))
        ch = np.moveaxis(U, -1, 0)                    # (channel, replica, sample, cell)
        terms["g"] = np.stack([model.field_grad_ch(p, ch, k).mean(axis=1) for k in (0, 1)])
        return terms

    def _registers(self, terms: dict[str, np.ndarray], pixels: np.ndarray):
        """Local terms -> register accumulators: ``g`` becomes the input couplers' batch mean
        of pixel_p dV/dh_i and the field registers' of dV/dh_i (``h``) and dV/df1_i (``S``,
        the second field whatever the model calls it)."""
        g = terms.pop("g")
        first = self.chip.spec.cells.layers[0]
        # at the pixels' precision (float32 data: half the time of the largest product)
        terms["input"] = pixels.T @ (g[0, :, :first] / g.shape[1]).astype(pixels.dtype)
        terms["h"], terms["S"] = g.mean(axis=1)
        return terms

    # -- the update ----------------------------------------------------------------------------
    def gradient(self, pixels: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
        """The estimate of dL/dtheta for every register, batch-averaged: the coupler blocks
        of :func:`coupler_blocks`, ``input`` (input, first-layer cell), ``h`` and ``S``
        (cell,)."""
        return self.estimator.gradient(self, pixels, labels)

    def train_batch(self, pixels: np.ndarray, labels: np.ndarray, lr_scale: float = 1.0) -> None:
        self._write(self.gradient(pixels, labels), lr_scale)

    def _write(self, grad: dict[str, np.ndarray], lr_scale: float) -> None:
        """Apply -lr * gradient to every register through its DAC."""
        chip, registers, writers = self.chip, self.chip.registers, self.writers
        codes = chip.J_codes.copy()
        for name, (r0, r1, c0, c1) in self.blocks.items():
            index = (slice(r0, r1), slice(c0, c1))
            new = writers["coupling"].apply(codes, grad[name] * chip.mask[index], index,
                                            scale=-lr_scale * self.lr_layers[1 + int(name[1:])])
            codes[index] = new
            if not chip.directed:  # one device per coupler: the mirror is the same
                codes[c0:c1, r0:r1] = new.T
        registers.couplings.write(codes, self.blocks.values())
        registers.inputs.write(writers["input"].apply(chip.input_codes, grad["input"],
                                                      scale=-lr_scale * self.lr_layers[0]))
        rates = ((0, "h", self.cfg.lr_fields), (1, "S", self.cfg.lr_sync))
        if any(lr > 0 for _, _, lr in rates):
            fcodes = chip.field_codes.copy()
            for k, name, lr in rates:
                if lr > 0:
                    fcodes[k] = writers["field"].apply(fcodes, grad[name], k,
                                                       scale=-lr_scale * lr)
            registers.fields.write(fcodes)

    # -- read-out ------------------------------------------------------------------------------
    def infer(self, pixels: np.ndarray) -> np.ndarray:
        """Mean first coupling channel of the output cells over the free phase's ADC samples."""
        engine = self.eval_engine
        B = engine.B
        n = len(pixels)
        padded = np.zeros((B, pixels.shape[1]))
        padded[:n] = pixels
        samples = phase_samples(self.chip.spec, self.cfg, self.cfg.free_steps)
        r = engine.run(self.cfg.free_steps, x0=engine.initial_state(),
                       h_ext=self.chip.input_field(padded), sample_steps=samples,
                       energy_every=0, settle=self.monitor.lengthen["free"])
        return self.channel_samples(r.adc_values)[:n, :, self.out, 0].mean(axis=1)

    def settling(self) -> dict[str, float]:
        return self.monitor.epoch()

    def report(self) -> dict:
        return self.estimator.report()

    def registers(self) -> dict[str, np.ndarray]:
        return {}  # every register EP learns is a chip register

    def load_registers(self, registers: dict[str, np.ndarray]) -> None:
        pass

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        state = {"chip_rng": rng_blob(self.chip.rng),
                 "train_engine": self.train_engine.state_blob(),
                 "eval_engine": self.eval_engine.state_blob()}
        if self.nudge_engine is not None:
            state["nudge_engine"] = self.nudge_engine.state_blob()
        for register in self.chip.registers.all():
            state.update(register.state_dict())
        for name, writer in self.writers.items():
            state.update(writer.state_dict(name))
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        set_rng_blob(self.chip.rng, state["chip_rng"])
        for register in self.chip.registers.all():
            register.load_state_dict(state)
        self.train_engine.load_state_blob(state["train_engine"])
        if self.nudge_engine is not None:
            self.nudge_engine.load_state_blob(state["nudge_engine"])
        self.eval_engine.load_state_blob(state["eval_engine"])
        for name, writer in self.writers.items():
            writer.load_state_dict(name, state)


def pair_terms(circuit: EpCircuit, ch: np.ndarray) -> dict[str, np.ndarray]:
    """Each coupler register's accumulator when its local term is the model's pair term
    dV/dJ_ij = pair_sign * sum_c ch_c(x_i) ch_c(x_j), sample-averaged over channel samples ch
    (channel, sample, cell): one matrix product per block and channel. A directed device gets
    its pair's term too: a reciprocal energy knows no direction."""
    return {name: circuit.model.pair_grad_mean(ch[:, :, r0:r1], ch[:, :, c0:c1])
            for name, (r0, r1, c0, c1) in circuit.blocks.items()}


def coupler_blocks(chip: Chip) -> dict[str, tuple[int, int, int, int]]:
    """The coupler registers of a layered chip, by name: ``J{k}`` the block (r0, r1, c0, c1)
    between layers k and k+1 with rows in layer k (one device per reciprocal pair, or on a
    directed chip the devices that drive layer k from layer k+1), and on a directed chip
    ``F{k}``, rows in layer k+1 (the devices that drive layer k+1 from layer k); blocks
    without devices (the backward ones of a feed-forward chip) are left out."""
    blocks = {}
    s = np.cumsum([0] + list(chip.spec.cells.layers))
    for k, (r0, r1, c1) in enumerate(zip(s[:-2], s[1:-1], s[2:])):
        c0 = r1
        if not chip.directed or chip.mask[r0:r1, c0:c1].any():
            blocks[f"J{k}"] = (r0, r1, c0, c1)
        if chip.directed and chip.mask[c0:c1, r0:r1].any():
            blocks[f"F{k}"] = (c0, c1, r0, r1)
    return blocks
