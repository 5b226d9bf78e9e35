"""The random streams of a run. Every draw comes from a stream named by the run seed and a
purpose, so a chip, a replica's noise and a learner's rounding are each a function of the seed
alone, whatever the replica count, thread count or chunking; and stream states as bytes, for
checkpoints."""

from __future__ import annotations

import json

import numpy as np


def chip_stream(seed: int) -> np.random.Generator:
    """The chip's random stream (mismatch, rounding, write noise): independent of replicas."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(0,))))


def replica_stream(seed: int, replica: int, purpose: int = 1) -> np.random.Generator:
    """Replica ``replica``'s stream (purpose 1: initial state and white noise; 3: 1/f noise):
    the same whatever the replica count or thread count."""
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(purpose, replica))))


def rng_blob(rng: np.random.Generator) -> np.ndarray:
    """A generator's state as bytes (JSON), storable in HDF5."""
    return np.frombuffer(json.dumps(rng.bit_generator.state).encode(), dtype=np.uint8)


def set_rng_blob(rng: np.random.Generator, blob: np.ndarray) -> None:
    rng.bit_generator.state = json.loads(bytes(np.asarray(blob, dtype=np.uint8)).decode())


def derived_seed(seed: int, purpose: str) -> int:
    """A seed for a second engine of the same run (e.g. inference) that shares no stream with
    the run's own engines nor with any other run seed's."""
    key = int.from_bytes(purpose.encode()[:8], "little")
    return int(np.random.SeedSequence(seed, spawn_key=(key,)).generate_state(1, np.uint64)[0])
