"""The window's two modes: training a run, or exploring a trained model."""

TRAIN = "train"
EXPLORE = "explore"
