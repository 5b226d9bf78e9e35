r"""Equilibrium Propagation with per-coupler accumulators, on the chip.

Phases (a global phase signal switches the nudge circuit on the output cells):

1. **free**: inputs drive the first layer through the input couplers; the chip runs
   ``free_steps``;
2. **nudged** with +beta (and -beta for the symmetric / centered estimators), each started
   from the free state: the output loss l = 1/2 (readout - y)^2, y = +1 for the label's output
   cell and -1 for the others, is added to V as a field change (oim: dh = beta y,
   dS = -beta/2; softspin: db = -beta y, da = beta), for ``nudged_steps``.

In each phase, every coupler's accumulator time-averages its local term dV/dJ_ij (oim:
-(I_i I_j + Q_i Q_j); softspin: x_i x_j) over the ADC samples of the last ``window`` steps, and
over the ``update_every`` samples of the batch (run as replicas); input couplers average
pixel_p * dV/dh_i, field registers dV/dh_i. Update, written through the DAC:

.. math::
    \Delta\theta = -\frac{\eta}{\beta}\,(a^{+\beta} - a^{0}) \quad\text{(one-sided)},\qquad
    \Delta\theta = -\frac{\eta}{2\beta}\,(a^{+\beta} - a^{-\beta})
    \quad\text{(symmetric = centered: two names for the same estimator)}.

With noise, time averages over a phase estimate E_{p_beta}[dV/dtheta], and the difference is
the exact gradient of the free-energy difference for any finite beta (Litman 2025, seed 001).
Scellier & Bengio 2017; Laborieux et al. 2021 (symmetric nudging); Gower 2025 (OIM form).
"""

from __future__ import annotations

import numpy as np

from thermochip.chip import Chip
from thermochip.engine import Engine
from thermochip.streams import derived_seed, rng_blob, set_rng_blob
from thermochip.errors import IncompatibleModelError
from thermochip.learn.base import AbstractLearner, DacWriter
from thermochip.spec import EpLearner, Layered


class EpLearnerCircuit(AbstractLearner):
    """EP accumulators next to every coupler of a layered chip (see the module docstring)."""

    both_signs = False
    """Nudge with +beta and -beta whatever the estimator (the adjoint learners need both)."""

    def __init__(self, chip: Chip, n_classes: int):
        spec = chip.spec
        cfg: EpLearner = spec.learner
        model = chip.model
        if not isinstance(spec.topology, Layered) or spec.cells.inputs < 1:
            raise IncompatibleModelError(f"learner '{cfg.rule}' needs a layered chip with inputs "
                                         "(topology: layered, cells.inputs)")
        if spec.cells.layers[-1] != n_classes:
            raise IncompatibleModelError(f"the last layer must have one cell per class: "
                                         f"cells.layers[-1] = {spec.cells.layers[-1]}, data "
                                         f"has {n_classes} classes")
        mode_name, n_read = model.readouts[model.readout_index(spec.adc.mode if spec.adc else None)]
        if spec.adc is None or n_read != model.n_channels or mode_name == "phase":
            raise IncompatibleModelError(f"learner '{cfg.rule}' reads the coupling channels "
                                         f"through the ADC: give an adc section with the "
                                         f"{model.name} channel read-out "
                                         f"({model.readouts[0][0]})")
        self.chip, self.cfg, self.model = chip, cfg, model
        self.n_classes = n_classes
        self.out = slice(chip.n - n_classes, chip.n)
        n_layers = len(spec.cells.layers)
        lr = list(cfg.lr)
        if len(lr) == 1:
            lr = lr * n_layers
        if len(lr) != n_layers:
            raise IncompatibleModelError(f"learner.lr needs 1 or {n_layers} values (input "
                                         f"couplers, then each pair of adjacent layers); got "
                                         f"{len(cfg.lr)}")
        self.lr_layers = lr
        self.blocks = coupler_blocks(chip)
        self.p64 = model.to_kernel(chip.params, np.float64)
        self.train_engine = Engine(chip, replicas=cfg.update_every)
        # the nudged phases of a batch run side by side: +beta on replicas 0..B-1 and, for the
        # symmetric estimators, -beta on B..2B-1 (one call, twice the parallel work)
        one_sided = cfg.estimator == "one_sided" and not self.both_signs
        self.betas = (cfg.beta,) if one_sided else (cfg.beta, -cfg.beta)
        self.nudge_engine = Engine(chip, replicas=len(self.betas) * cfg.update_every,
                                   seed=derived_seed(spec.run.seed, "nudge"))
        self.eval_engine = Engine(chip, replicas=spec.train.eval_replicas,
                                  seed=derived_seed(spec.run.seed, "eval"))
        d, w = spec.couplings.dac, cfg.write
        self.coupling_writer = DacWriter(chip.J_codes, d.bits, d.full_scale, w, chip.rng)
        self.input_writer = DacWriter(chip.input_codes, d.bits, d.full_scale, w, chip.rng)
        fd = spec.fields.dac
        self.field_writer = DacWriter(chip.field_codes, fd.bits, fd.full_scale, w, chip.rng)

    # -- the phases ----------------------------------------------------------------------------
    def _phase(self, engine: Engine, steps: int, x0, h_ext, correction=None):
        """Run one phase; return the final state (for the next phase's start, inside the chip)
        and the ADC channel samples (replica, sample, cell, channel) of its last window."""
        window = min(self.cfg.window, steps)
        samples = np.arange(steps - window + 1, steps + 1)
        r = engine.run(steps, x0=x0, h_ext=h_ext, sample_steps=samples, energy_every=0,
                       correction=correction)
        return r.x, r.adc_values

    def _accumulate(self, U: np.ndarray, pixels: np.ndarray) -> dict[str, np.ndarray]:
        """Accumulators of one phase from its ADC samples U (replica, sample, cell, channel):
        the time and batch average of each register's local term."""
        return self._registers(self._local_terms(U), pixels)

    def _contrast(self, U_a, U_b, pixels: np.ndarray, scale: float) -> dict[str, np.ndarray]:
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
        terms = self._coupler_terms(np.moveaxis(U.reshape(B * S, self.chip.n, -1), -1, 0))
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

    def _coupler_terms(self, ch: np.ndarray) -> dict[str, np.ndarray]:
        """Each coupler register's accumulator from channel samples ch (channel, sample, cell):
        dV/dJ_ij = pair_sign * sum_c ch_c(x_i) ch_c(x_j), averaged (one matrix product). A
        directed device gets its pair's term too: symmetric EP knows no direction."""
        return {name: self.model.pair_grad_mean(ch[:, :, r0:r1], ch[:, :, c0:c1])
                for name, (r0, r1, c0, c1) in self.blocks.items()}

    def train_batch(self, pixels: np.ndarray, labels: np.ndarray, lr_scale: float = 1.0) -> None:
        self._write(self.gradient(pixels, labels), lr_scale)

    def gradient(self, pixels: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
        """The EP estimate of dL/dtheta for every register, batch-averaged: the coupler blocks
        of :func:`coupler_blocks`, ``input`` (input, first-layer cell) and ``h`` (cell,)."""
        cfg, chip, engine = self.cfg, self.chip, self.train_engine
        h_in = chip.input_field(pixels)
        x_free, U_free = self._phase(engine, cfg.free_steps, engine.initial_state(), h_in)
        U = self._nudged(x_free, h_in, self.targets(labels))
        if cfg.estimator == "one_sided":
            return self._contrast(U[0], U_free, pixels, 1.0 / cfg.beta)
        return self._contrast(U[0], U[1], pixels, 0.5 / cfg.beta)

    def _nudged(self, x_free, h_in, target, correction=None) -> list[np.ndarray]:
        """The ADC samples of each nudged phase (one per beta of :attr:`betas`), all started
        from the free state ``x_free`` and run as one call of the nudge engine."""
        n = len(self.betas)
        h = np.concatenate([self.nudged_fields(h_in, b, target) for b in self.betas], axis=1)
        _, U = self._phase(self.nudge_engine, self.cfg.nudged_steps,
                           np.concatenate([x_free] * n), h, correction)
        return np.split(U, n)

    def targets(self, labels: np.ndarray) -> np.ndarray:
        """(sample, class) output targets: +1 for the label's cell, -1 for the others."""
        target = -np.ones((len(labels), self.n_classes))
        target[np.arange(len(labels)), labels] = 1.0
        return target

    def nudged_fields(self, h_in: np.ndarray, beta: float, target: np.ndarray) -> np.ndarray:
        """(field, replica, cell) field changes of a nudged phase: the inputs' field plus the
        output nudge circuit's change of both fields (adds beta * loss to V)."""
        df0, df1 = self.model.nudge(self.p64, beta, target)
        h = np.zeros((2,) + h_in.shape)
        h[0] = h_in
        h[0][:, self.out] += df0
        h[1][:, self.out] = df1
        return h

    def _write(self, grad: dict[str, np.ndarray], lr_scale: float) -> None:
        """Apply -lr * gradient to every register through its DAC."""
        chip, registers = self.chip, self.chip.registers
        codes = chip.J_codes.copy()
        for name, (r0, r1, c0, c1) in self.blocks.items():
            index = (slice(r0, r1), slice(c0, c1))
            new = self.coupling_writer.apply(codes, grad[name] * chip.mask[index], index,
                                             scale=-lr_scale * self.lr_layers[1 + int(name[1:])])
            codes[index] = new
            if not chip.directed:  # one device per coupler: the mirror is the same
                codes[c0:c1, r0:r1] = new.T
        registers.couplings.write(codes, self.blocks.values())
        registers.inputs.write(self.input_writer.apply(chip.input_codes, grad["input"],
                                                       scale=-lr_scale * self.lr_layers[0]))
        rates = ((0, "h", self.cfg.lr_fields), (1, "S", self.cfg.lr_sync))
        if any(lr > 0 for _, _, lr in rates):
            fcodes = chip.field_codes.copy()
            for k, name, lr in rates:
                if lr > 0:
                    fcodes[k] = self.field_writer.apply(fcodes, grad[name], k,
                                                        scale=-lr_scale * lr)
            registers.fields.write(fcodes)

    # -- read-out ------------------------------------------------------------------------------
    def infer(self, pixels: np.ndarray) -> np.ndarray:
        """Mean output ADC codes of the first read-out channel over the free phase's window."""
        engine = self.eval_engine
        B = engine.B
        n = len(pixels)
        padded = np.zeros((B, pixels.shape[1]))
        padded[:n] = pixels
        window = min(self.cfg.window, self.cfg.free_steps)
        samples = np.arange(self.cfg.free_steps - window + 1, self.cfg.free_steps + 1)
        r = engine.run(self.cfg.free_steps, x0=engine.initial_state(),
                       h_ext=self.chip.input_field(padded), sample_steps=samples,
                       energy_every=0)
        return r.adc_codes[:n, :, self.out, 0].mean(axis=1)

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        state = {"chip_rng": rng_blob(self.chip.rng),
                 "train_engine": self.train_engine.state_blob(),
                 "nudge_engine": self.nudge_engine.state_blob(),
                 "eval_engine": self.eval_engine.state_blob()}
        for register in self.chip.registers.all():
            state.update(register.state_dict())
        for name in ("coupling", "input", "field"):
            state.update(getattr(self, f"{name}_writer").state_dict(name))
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        set_rng_blob(self.chip.rng, state["chip_rng"])
        for register in self.chip.registers.all():
            register.load_state_dict(state)
        self.train_engine.load_state_blob(state["train_engine"])
        self.nudge_engine.load_state_blob(state["nudge_engine"])
        self.eval_engine.load_state_blob(state["eval_engine"])
        for name in ("coupling", "input", "field"):
            getattr(self, f"{name}_writer").load_state_dict(name, state)


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
