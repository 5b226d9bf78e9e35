r"""Onsager--Machlup (OM) residual learning from ADC samples of a trajectory (seed 000).

Discretised path likelihood. The chip integrates the Ito SDE (dimensionless time)
``dx = f(x) dt + sqrt(2 kT) dW`` with the drift ``f_i(x) = local_force(x_i, f0_i, f1_i) +
coupling_force(x_i, G_i)``, ``G_i = sum_j J_ij ch(x_j)`` (for soft spins f = -dV/dx with
V = sum_i [J2 x_i^2 + J4 x_i^4 + b_i x_i + a_i x_i^2 / 2] + 1/2 sum_{i != j} J_ij x_i x_j).
For samples ``x_k`` taken ``dt_s`` apart (``dt_s = spacing * chip.dt``) the Euler--Maruyama
(Ito) residual of each step is

.. math::
    r_k = x_{k+1} - x_k - f(x_k)\,dt_s,
    \qquad -\log p(x_{k+1}\mid x_k) = \frac{\lVert r_k\rVert^2}{4\,kT\,dt_s} + \text{const},

so the OM action of the path is ``L = sum_k |r_k|^2 / (4 kT dt_s)``. It is quadratic in every
parameter the drift is linear in, and its gradients are closed-form and local (signs and
factors checked against finite differences in ``tests/test_om.py``):

.. math::
    \frac{\partial L}{\partial b_i} = \sum_k \frac{r_{k,i}}{2kT},\qquad
    \frac{\partial L}{\partial J_{ij}} = \sum_k \frac{r_{k,i}\,x_{k,j} + r_{k,j}\,x_{k,i}}{2kT}
    \quad(\text{one parameter per symmetric pair } J_{ij} = J_{ji}).

(In general, ``dL/dtheta = -sum_k r_k . (df/dtheta) / (2kT)``; for soft spins
``df_i/db_i = -1`` and ``df_i/dJ_ij = -x_j``.) The update of coupler (i, j) needs the samples
of cells i and j and their residuals; a residual r_i is cell i's own velocity minus its own
force, and that force includes the coupling current ``sum_j J_ij x_j`` arriving at cell i, so it
is physically present at the cell. Nothing else enters.

All physics comes from the device model (``model.local_force``, ``model.coupling_force``,
``model.channel``, ``model.channel_deriv``): nothing here restates the drift.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from device_models import dac
from device_models.params import NON_NEGATIVE, POSITIVE, Interval, spec_field
from thermochip.checks import directed_where
from thermochip.chip import Chip
from thermochip.engine import Engine
from thermochip.errors import IncompatibleModelError, ThermochipError
from thermochip.learn.base import AbstractLearner
from thermochip.learn.rules import register_rule
from thermochip.learn.writers import DacWriter, WriteSpec
from thermochip.spec import Layered
from thermochip.streams import derived_seed, rng_blob, set_rng_blob

__all__ = ["OmLearnerCircuit", "action", "class_actions", "om_gradients", "residuals"]


# ---------------------------------------------------------------------------------------------
# the rule: its spec section and what it needs


@dataclass(frozen=True, kw_only=True)
class OmLearner:
    """Onsager--Machlup residual learning (seed 000): from ADC samples of a trajectory,
    residuals r_k = dx_k + mu grad V(x_k) dt; dL/db_i = sum r_i/(2kT),
    dL/dJ_ij = sum (r_i x_j + r_j x_i)/(2kT). One phase, no equilibration."""

    rule: str = "om"
    trajectory_steps: int = spec_field(10, doc="samples K of each observed trajectory",
                                       check=Interval(2, None))
    spacing: int | None = spec_field(None, doc="engine steps between samples: the ADC's "
                                               "sample period (adc.sample_rate); if given, "
                                               "it must match", check=Interval(1, None))
    kT: float = spec_field(0.1, doc="temperature the residuals are scaled by", check=POSITIVE)
    lr: list[float] = spec_field(default_factory=lambda: [0.01],
                                 doc="learning rate per coupling layer; one value for all")
    lr_fields: float = spec_field(0.01, doc="learning rate of the per-class biases",
                                  check=NON_NEGATIVE)
    update_every: int = spec_field(20, doc="samples per DAC write", check=Interval(1, None))
    write: WriteSpec = spec_field(default_factory=WriteSpec, doc="DAC write")

    def requirements(self, spec, model, params, data_shape) -> list[tuple[str, str]]:
        """One cell with a linear drift and a well per pixel, read through the ADC, one
        reciprocal coupling per pair (see :class:`OmLearnerCircuit`)."""
        out = []
        if spec.integrator.method not in (None, "euler_maruyama"):
            out.append(("integrator.method", "the OM residuals are those of Euler-Maruyama "
                                             "steps: give euler_maruyama"))
        layered = isinstance(spec.topology, Layered)
        if data_shape is not None and (not model.affine_drift or layered
                                       or spec.n_cells != data_shape[1]):
            out.append(("cells", f"OM learning on {data_shape[0]} needs {data_shape[1]} cells "
                                 f"with a linear drift (softspin), one per pixel, not layered"))
        elif not model.affine_drift or layered:
            out.append(("cells", "OM learning needs cells with a linear drift (softspin), one "
                                 "per pixel, not layered"))
        elif model.well_refusal(params):
            out.append(("cells.params", f"OM learning {model.well_refusal(params)}"))
        a = spec.adc
        if a is None:
            out.append(("adc", "OM learning reads trajectories through the ADC"))
        elif a.sample_times is not None:
            out.append(("adc.sample_times", "OM learning samples each trajectory on the ADC's "
                                            "clock: give adc.sample_rate"))
        else:
            dt = spec.integrator.dt
            if a.window_steps(dt) > 1:
                out.append(("adc.window", "the OM residuals need point samples: set adc.window "
                                          "to 0 (one step)"))
            if self.spacing is not None and self.spacing != a.period_steps(dt):
                out.append(("learner.spacing", f"{self.spacing} steps, but the ADC samples "
                                               f"every {a.period_steps(dt)} steps "
                                               f"(adc.sample_rate); leave it out or match it"))
        if len(self.lr) != 1:
            out.append(("learner.lr", f"the OM classifier has one coupling layer, give one "
                                      f"value; got {len(self.lr)}"))
        if spec.directed:
            where = directed_where(spec)
            out.append((where, f"learner rule om fits one coupling per reciprocal pair "
                               f"(J_ij = J_ji) and needs reciprocal couplers; set {where}: "
                               f"false"))
        return out


# ---------------------------------------------------------------------------------------------
# the discretised action and its gradients (float64, numpy)


def _drift(model, p, x, J, f0, f1):
    """f(x) of the model: x (..., replica, cell); J (cell, cell); f0, f1 broadcast to x. The
    coupling sums run as one matrix product over all samples (skipped when no coupler is
    set: a chip whose couplings are all zero)."""
    local = model.local_force(p, x, f0, f1)
    if not J.any():
        return local
    n = x.shape[-1]
    G = [(model.channel(p, x, c).reshape(-1, n) @ J.T).reshape(x.shape)
         for c in range(model.n_channels)]
    return local + model.coupling_force(p, x, G)


def residuals(model, p, X, J, f0, f1, dt_s: float) -> np.ndarray:
    """Euler--Maruyama residuals ``r_k = x_{k+1} - x_k - f(x_k) dt_s``.

    X: (sample, replica, cell) ADC-read trajectory, samples ``dt_s`` apart (dimensionless
    time). J: (cell, cell) symmetric couplings. f0, f1: the model's two fields, scalars,
    (cell,) or (replica, cell) (soft spins: bias b and stiffness a). p: the model's kernel
    parameters (``model.to_kernel(params, np.float64)``). Returns (sample - 1, replica, cell)
    float64. Under the model's own dynamics r_k ~ N(0, 2 kT dt_s) per cell, independent.
    """
    X = np.asarray(X, dtype=np.float64)
    J = np.asarray(J, dtype=np.float64)
    x = X[:-1]
    return X[1:] - x - _drift(model, p, x, J, f0, f1) * dt_s


def action(model, p, X, J, f0, f1, dt_s: float, kT: float, *,
           per_replica: bool = False) -> float | np.ndarray:
    """OM action ``L = sum_k |r_k|^2 / (4 kT dt_s)`` of the trajectory X (sample, replica,
    cell) -- minus the log path likelihood up to a parameter-free constant. Summed over
    replicas, or (replica,) with ``per_replica``."""
    r = residuals(model, p, X, J, f0, f1, dt_s)
    per = (r * r).sum(axis=(0, 2)) / (4.0 * kT * dt_s)
    return per if per_replica else float(per.sum())


def om_gradients(model, p, X, J, f0, f1, dt_s: float, kT: float, *,
                 per_replica: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form gradients of :func:`action` with respect to the couplings and field 0.

    Returns ``(dL_dJ, dL_db)``:

    - ``dL_dJ`` (cell, cell), symmetric with zero diagonal: entry (i, j) is the derivative with
      respect to the one parameter of the symmetric pair (J_ij and J_ji move together), summed
      over replicas; soft spins: ``sum_k (r_i x_j + r_j x_i) / (2 kT)``;
    - ``dL_db`` (cell,) summed over replicas, or (replica, cell) with ``per_replica``:
      the derivative with respect to field 0 (the bias b); soft spins: ``sum_k r_i / (2 kT)``.

    Derivation: dL/dtheta = sum_k 2 r_k . dr_k/dtheta / (4 kT dt_s) and
    dr_k/dtheta = -dt_s df/dtheta, so dL/dtheta = -sum_k r_k . df/dtheta / (2 kT). The
    coupling force is ``-pair_sign sum_c channel_deriv(x_i, c) G_ic`` with
    ``G_ic = sum_j J_ij ch_c(x_j)``, so ``df_i/dJ_ij = -pair_sign sum_c ch'_c(x_i) ch_c(x_j)``;
    the local force is affine in field 0, so its slope ``df_i/db_i`` is the difference of the
    force at b = 1 and b = 0 (soft spins: -1).
    """
    X = np.asarray(X, dtype=np.float64)
    r = residuals(model, p, X, J, f0, f1, dt_s)
    dL_db = _grad_field(model, p, X[:-1], r, f1, kT)
    return _grad_couplings(model, p, X[:-1], r, kT), (dL_db if per_replica
                                                      else dL_db.sum(axis=0))


def _grad_couplings(model, p, x, r, kT: float) -> np.ndarray:
    """(cell, cell) dL/dJ (one parameter per symmetric pair) from the samples x and the
    residuals r, both (step, replica, cell)."""
    n = x.shape[-1]
    half = np.zeros((n, n))
    for c in range(model.n_channels):
        weighted = (r * model.channel_deriv(p, x, c)).reshape(-1, n)
        half += weighted.T @ model.channel(p, x, c).reshape(-1, n)
    dL_dJ = model.pair_sign * (half + half.T) / (2.0 * kT)
    np.fill_diagonal(dL_dJ, 0.0)
    return dL_dJ


def _grad_field(model, p, x, r, f1, kT: float) -> np.ndarray:
    """(replica, cell) dL/db from the samples x and the residuals r (step, replica, cell)."""
    slope = model.local_force(p, x, 1.0, f1) - model.local_force(p, x, 0.0, f1)
    return -(r * slope).sum(axis=0) / (2.0 * kT)


def class_actions(model, p, X, J, f0, f1, biases, dt_s: float, kT: float) -> np.ndarray:
    """(replica, class) OM action of each replica's trajectory X (sample, replica, cell) under
    each class model, whose field 0 is ``f0 + biases[c]`` (biases: (class, cell)).

    Equal to calling :func:`action` once per class, but the residuals are computed once:
    the drift is affine in field 0 with slope s = df/db (soft spins: -1), so
    ``r^c = r^0 - s B_c dt_s`` and
    ``4 kT dt_s L_c = sum|r^0|^2 - 2 dt_s (sum_k r^0 s) . B_c + dt_s^2 (sum_k s^2) . B_c^2``."""
    X = np.asarray(X, dtype=np.float64)
    x = X[:-1]
    r0 = residuals(model, p, X, J, f0, f1, dt_s)
    slope = model.local_force(p, x, 1.0, f1) - model.local_force(p, x, 0.0, f1)
    slope = np.broadcast_to(slope, r0.shape)
    B = np.asarray(biases, dtype=np.float64)
    total = ((r0 * r0).sum(axis=(0, 2))[:, None] - 2.0 * dt_s * (r0 * slope).sum(axis=0) @ B.T
             + dt_s * dt_s * (slope * slope).sum(axis=0) @ (B * B).T)
    return total / (4.0 * kT * dt_s)


# ---------------------------------------------------------------------------------------------
# the classifier on the chip


class OmLearnerCircuit(AbstractLearner):
    """Onsager--Machlup classifier with per-class wells on a soft-spin chip.

    **Chip.** The cells are the pixels: ``cells.n`` must equal the number of inputs P, and the
    cells must have a linear drift and a well a field can centre (soft spins with ``J2 > 0``;
    :meth:`OmLearner.requirements`, checked when the spec loads). The learner reads the chip
    only through its ADC.

    **Observation phase** (one phase, no equilibration). For each sample the host's input DACs
    drive each cell's field ``b_i = -2 J2 u_i`` (the model's ``well_field``) with
    ``u = 2 * pixel - 1`` (a well centred on the data; the drive is rounded to the fields-DAC
    grid), the cells start at ``u``, and the chip runs ``trajectory_steps * spacing`` steps
    with its own noise; the ADC samples every ``spacing`` steps (its sample period at
    ``adc.sample_rate``), giving K = ``trajectory_steps`` samples and K - 1 residuals at
    ``dt_s = spacing * dt``.
    ``update_every`` samples run at once as replicas.

    **Registers.** Per-class bias registers ``B`` (class, cell): digital registers on the
    fields-DAC grid (``fields.dac``), written with ``learner.write`` (rounding, optional shadow
    register), starting at 0. The couplings are the chip's own coupling DAC codes: the learner
    uses ``J = codes * LSB`` (it cannot see mismatch or write noise), plus the chip's field
    registers b and a (codes * LSB) as known parts of the drift.

    **Training.** The label c selects which register the residual accumulators update: the
    residual of sample s is ``r^c_k = dx_k - f_c(x_k) dt_s``, where ``f_c`` is the drift with
    bias ``b + B[c]`` in place of the clamp field. Then, with M the number of samples in the
    batch and lr = ``lr_fields * lr_scale``,
    ``dB[c] = -lr * (sum over the batch's class-c samples of dL/db) / M``
    (``dL/db_i = sum_k r^c_{k,i} / (2 kT)``, kT = ``learner.kT``). When ``lr[0] > 0`` the
    couplings move too, ``dJ_ij = -lr[0] * lr_scale * (sum over the batch of dL/dJ_ij) / M``
    (``dL/dJ_ij = sum_k (r_i x_j + r_j x_i) / (2 kT)``), written through the coupling DAC with
    ``learner.write`` (one rounding per coupler; codes stay symmetric, on the grid and on the
    topology).

    **Inference.** Each test sample is observed the same way (on a second set of replicas with
    their own noise streams, so evaluating never changes training); the output is, per class,
    minus the OM action of the observed trajectory under class c's model, shape
    (sample, class): larger is more likely, the host takes the argmax.

    **What it converges to.** The chip's own dynamics give ``r^c_k = noise + (B[c] -
    b_drive) dt_s`` (the coupling and local terms cancel up to mismatch), so with coupling
    learning off, ``B[c]`` converges to the class mean of the drive field,
    ``-2 J2 mean_{class c}(u)``, and the action difference between classes is
    ``(K-1) dt_s (|B[c] - b_drive|^2 - |B[c'] - b_drive|^2) / (4 kT)`` plus thermal noise: the
    classifier is nearest-class-mean in well space, blurred by the chip's noise (the noise
    term shrinks relative to the signal as ``sqrt((K-1) dt_s / kT_chip)`` grows). It is not
    more than that: the per-class wells carry only the class means. Coupling learning adds one
    shared symmetric matrix fitted to the class-model residuals (it also changes the chip's own
    dynamics); on the digits it did not improve on bias-only learning.

    **Checkpoints.** :meth:`state_dict` holds the registers (codes and shadows), the coupling
    codes and their analog values, the chip's random stream and both engines' replica streams
    and 1/f filter states, so a resumed run is bit-exact.
    """

    def __init__(self, chip: Chip, n_classes: int):
        spec = chip.spec
        cfg = spec.learner
        self.chip, self.cfg, self.model = chip, cfg, chip.model
        self.n_classes = int(n_classes)
        self.p64 = chip.model.to_kernel(chip.params, np.float64)
        spacing = spec.adc.period_steps(spec.integrator.dt)
        self.dt_s = spacing * chip.dt
        self.steps = cfg.trajectory_steps * spacing
        self.sample_steps = spacing * np.arange(1, cfg.trajectory_steps + 1)
        self.train_engine = Engine(chip, replicas=cfg.update_every)
        self.eval_engine = Engine(chip, replicas=spec.train.eval_replicas,
                                  seed=derived_seed(spec.run.seed, "eval"))
        w, fd, cd = cfg.write, spec.fields.dac, spec.couplings.dac
        self.bias_codes = np.zeros((self.n_classes, chip.n), dtype=np.int32)
        self.bias_writer = DacWriter(self.bias_codes, fd.bits, fd.full_scale, w, chip.rng)
        c = chip.couplers
        # a sparse chip's coupling registers (and the writer's shadow, adam means, checkpoint)
        # are per pair i < j, never cell x cell
        self._pairs = np.flatnonzero(c.i < c.j) if c.edges else None
        self._entry_pair = np.searchsorted(self._pairs, c.upper) if c.edges else None
        self.coupling_writer = DacWriter(self._coupling_codes(), cd.bits, cd.full_scale, w,
                                         chip.rng)

    # -- what the learner knows ------------------------------------------------------------------
    @property
    def bias(self) -> np.ndarray:
        """(class, cell) per-class bias values (register codes * fields-DAC LSB)."""
        fd = self.chip.spec.fields.dac
        return dac.to_values(self.bias_codes, fd.bits, fd.full_scale)

    def _couplings(self) -> np.ndarray:
        """The couplings as the learner knows them: DAC codes * LSB (no mismatch)."""
        cd = self.chip.spec.couplings.dac
        return dac.to_values(self.chip.J_codes, cd.bits, cd.full_scale)

    def _coupling_codes(self) -> np.ndarray:
        """The coupling codes the writer updates: (cell, cell), or (pair,) on a sparse chip."""
        codes = self.chip.registers.couplings.codes
        return codes[self._pairs] if self._pairs is not None else self.chip.J_codes

    def _write_couplings(self, grad: np.ndarray, scale: float) -> None:
        """Step the reciprocal couplings by ``scale`` x ``grad`` ((cell, cell), the upper
        triangle read) through the DAC; both directions of a pair get its new code."""
        chip, writer = self.chip, self.coupling_writer
        if self._pairs is not None:
            c, up = chip.couplers, self._pairs
            new = writer.apply(self._coupling_codes(), grad[c.i[up], c.j[up]], scale=scale)
            chip.registers.couplings.write(new[self._entry_pair])
            return
        new = writer.apply(chip.J_codes, np.triu(grad, 1) * chip.mask, scale=scale)
        upper = np.triu(new, 1)
        chip.registers.couplings.write(chip.couplers.stored((upper + upper.T).astype(np.int32)))
        if writer.shadow_bits is not None:
            s = np.triu(writer.shadow, 1)
            writer.shadow = s + s.T

    def _field_registers(self) -> np.ndarray:
        """(2, cell) the chip's own field registers b and a, codes * LSB."""
        fd = self.chip.spec.fields.dac
        return dac.to_values(self.chip.field_codes, fd.bits, fd.full_scale)

    # -- observation phase -------------------------------------------------------------------------
    def _check_pixels(self, pixels: np.ndarray) -> np.ndarray:
        pixels = np.asarray(pixels, dtype=np.float64)
        if pixels.ndim != 2 or pixels.shape[1] != self.chip.n:
            got = pixels.shape[1] if pixels.ndim == 2 else pixels.shape
            raise IncompatibleModelError(f"learner 'om' needs one cell per pixel: cells.n = "
                                         f"{self.chip.n}, data has {got} pixels")
        return pixels

    def _observe(self, pixels: np.ndarray, engine: Engine) -> np.ndarray:
        """ADC samples (sample, data sample, cell) of the observation phase of ``pixels``
        (data sample, cell), ``engine.B`` at a time (a last partial group is padded with
        mid-grey samples whose trajectories are discarded)."""
        chip = self.chip
        fd = chip.spec.fields.dac
        n, B = len(pixels), engine.B
        out = np.empty((self.cfg.trajectory_steps, n, chip.n))
        for start in range(0, n, B):
            m = min(B, n - start)
            u = np.zeros((B, chip.n))
            u[:m] = 2.0 * pixels[start:start + m] - 1.0
            codes, _ = dac.to_codes(self.model.well_field(chip.params, u), fd.bits,
                                    fd.full_scale, "nearest")
            drive = dac.to_values(codes, fd.bits, fd.full_scale)
            r = engine.run(self.steps, x0=u, h_ext=drive, sample_steps=self.sample_steps,
                           energy_every=0)
            out[:, start:start + m] = r.adc_values[:m, :, :, 0].transpose(1, 0, 2)
        return out

    # -- AbstractLearner ---------------------------------------------------------------------------
    def train_batch(self, pixels: np.ndarray, labels: np.ndarray, lr_scale: float = 1.0) -> None:
        pixels = self._check_pixels(pixels)
        labels = np.asarray(labels, dtype=np.int64)
        if len(pixels) == 0:
            return
        if labels.shape != (len(pixels),) or labels.min() < 0 or labels.max() >= self.n_classes:
            raise ValueError(f"labels must be ({len(pixels)},) class indices in "
                             f"0..{self.n_classes - 1}")
        chip, cfg = self.chip, self.cfg
        X = self._observe(pixels, self.train_engine)
        fields = self._field_registers()
        f0 = fields[0] + self.bias[labels]                       # (sample, cell): class model
        r = residuals(self.model, self.p64, X, self._couplings(), f0, fields[1], self.dt_s)
        M = len(pixels)
        if cfg.lr_fields > 0:
            per_class = np.zeros((self.n_classes, chip.n))
            np.add.at(per_class, labels,
                      _grad_field(self.model, self.p64, X[:-1], r, fields[1], cfg.kT))
            self.bias_codes = self.bias_writer.apply(self.bias_codes, per_class / M,
                                                     scale=-cfg.lr_fields * lr_scale)
        if cfg.lr[0] > 0:
            dL_dJ = _grad_couplings(self.model, self.p64, X[:-1], r, cfg.kT)
            self._write_couplings(dL_dJ / M, -cfg.lr[0] * lr_scale)

    def infer(self, pixels: np.ndarray) -> np.ndarray:
        """(sample, class) minus the OM action of each sample's observed trajectory under each
        class's model (larger = more likely)."""
        pixels = self._check_pixels(pixels)
        X = self._observe(pixels, self.eval_engine)
        fields = self._field_registers()
        return -class_actions(self.model, self.p64, X, self._couplings(), fields[0], fields[1],
                              self.bias, self.dt_s, self.cfg.kT)

    def registers(self) -> dict[str, np.ndarray]:
        return {"bias_codes": self.bias_codes.copy()}

    def load_registers(self, registers: dict[str, np.ndarray]) -> None:
        if "bias_codes" not in registers:
            raise ThermochipError("the couplings file holds no OM class-bias registers "
                                  "(bias_codes): it was not written by an OM run")
        self.bias_codes = np.array(registers["bias_codes"], dtype=np.int32)
        if self.bias_writer.shadow_bits is not None:
            self.bias_writer.shadow = np.rint(
                self.bias_codes * (self.bias_writer.lsb / self.bias_writer.shadow_lsb)
            ).astype(np.int64)

    def state_dict(self) -> dict[str, np.ndarray]:
        couplings = self.chip.registers.couplings
        state = {"bias_codes": self.bias_codes.copy(), **couplings.state_dict(),
                 "chip_rng": rng_blob(self.chip.rng),
                 "train_engine": self.train_engine.state_blob(),
                 "eval_engine": self.eval_engine.state_blob()}
        for name in ("bias", "coupling"):
            state.update(getattr(self, f"{name}_writer").state_dict(name))
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.bias_codes = np.array(state["bias_codes"], dtype=np.int32)
        # the analog couplings (write noise, mismatch) are restored as saved, not re-drawn
        self.chip.registers.couplings.load_state_dict(state)
        set_rng_blob(self.chip.rng, state["chip_rng"])
        self.train_engine.load_state_blob(state["train_engine"])
        self.eval_engine.load_state_blob(state["eval_engine"])
        for name in ("bias", "coupling"):
            getattr(self, f"{name}_writer").load_state_dict(name, state)


RULE = register_rule(OmLearner, OmLearnerCircuit)
