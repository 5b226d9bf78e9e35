"""Does on-chip regularisation help a small data set? Weight decay toward zero or toward the
initial codes, and early stopping on a validation set, against none: test accuracy (mean and
std over seeds) on the Wine example and on 150 bundled digits.

    python examples/studies/small_data_regularisation.py            # both tasks, 5 seeds
    python examples/studies/small_data_regularisation.py --task wine --seeds 2
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

import thermochip as tc

EXAMPLES = Path(__file__).resolve().parent.parent

#: task -> (spec, epochs, data fields changed)
TASKS = {"wine": ("wine_oim_ep.yaml", 40, {}),
         "digits150": ("quickstart.yaml", 30, {"train_size": 150})}

#: label -> (weight decay, anchor, patience)
VARIANTS = {"none": (0.0, "zero", None),
            "decay 0.0003 to zero": (0.0003, "zero", None),
            "decay 0.001 to zero": (0.001, "zero", None),
            "decay 0.003 to zero": (0.003, "zero", None),
            "decay 0.001 to initial": (0.001, "initial", None),
            "decay 0.003 to initial": (0.003, "initial", None),
            "early stop (patience 8, 20 % validation)": (0.0, "zero", 8)}


def variant(spec, epochs, data, decay, anchor, patience, seed):
    learner = spec.learner
    write = dataclasses.replace(learner.write, weight_decay=decay, decay_to=anchor)
    return dataclasses.replace(
        spec, learner=dataclasses.replace(learner, write=write),
        data=dataclasses.replace(spec.data, validation=0.2 if patience else 0.0, **data),
        train=dataclasses.replace(spec.train, epochs=epochs, patience=patience),
        run=dataclasses.replace(spec.run, seed=seed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=list(TASKS), action="append")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    for task in args.task or list(TASKS):
        name, epochs, data = TASKS[task]
        spec = tc.load_spec(EXAMPLES / name)
        for label, (decay, anchor, patience) in VARIANTS.items():
            results = [tc.train(variant(spec, epochs, data, decay, anchor, patience, seed),
                                base_dir=EXAMPLES) for seed in range(args.seeds)]
            test = [r.test.accuracy for r in results]
            train = [r.train_accuracy for r in results]
            print(f"{task:9s} {label:42s} test {np.mean(test):6.1%} ± {np.std(test):5.1%}  "
                  f"train {np.mean(train):6.1%}  epochs "
                  f"{' '.join(str(len(r.history.epoch)) for r in results)}", flush=True)


if __name__ == "__main__":
    main()
