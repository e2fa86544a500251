import os
import sys

import pytest
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    from trainer.tiny import init_tiny

    return init_tiny(str(tmp_path_factory.mktemp("tiny") / "model"), seed=0)


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    from trainer.demo import make_demo_data

    d = tmp_path_factory.mktemp("demo")
    paths = make_demo_data(str(d), pairs=8, seed=3)
    return {"dir": str(d), **paths}
