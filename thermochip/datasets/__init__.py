"""Small data files shipped with thermochip (see README.md in this folder for provenance),
and the sizes of the sets thermochip knows by name."""

#: (samples, features, classes) of each named data set: train and test together.
SHAPES = {"digits": (1797, 64, 10), "mnist": (70_000, 784, 10),
          "fashion_mnist": (70_000, 784, 10)}
