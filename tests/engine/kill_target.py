"""Run by test_reliability: trains a tiny model, writing a checkpoint every step, until killed."""

import sys

from sagan_engine.trainer import Trainer
from tests.engine.conftest import synthetic_dataset, tiny_config

if __name__ == "__main__":
    config = tiny_config(
        steps=100_000, checkpoint_every=1, log_every=50, sample_every=100_000, keep_checkpoints=2
    )
    Trainer(config, synthetic_dataset(), sys.argv[1], resume=len(sys.argv) > 2).run()
