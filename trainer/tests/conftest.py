import json
import os
import sys

import pytest
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
torch.set_num_threads(1)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# tracking in tests goes to the test's tmp dirs, never to the repository's .mmedpo/
os.environ.pop("MLFLOW_TRACKING_URI", None)

FAMILIES = ["llava", "llava_next", "qwen2_vl", "qwen2_5_vl", "gemma3", "idefics3"]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """family → tiny model dir, built once per session on first use."""
    from trainer.tiny import init_tiny

    root = tmp_path_factory.mktemp("tiny")
    built: dict[str, str] = {}

    def get(family: str) -> str:
        if family not in built:
            built[family] = init_tiny(str(root / family), family, seed=0)
        return built[family]

    return get


@pytest.fixture(scope="session")
def tiny_dir(tiny_models):
    return tiny_models("llava")


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """8 synthetic pairs: even ones D_t (rejected answer on the same image), odd ones D_v (the chosen answer
    as the rejected one, on a noised image x*)."""
    from trainer.demo import make_demo_data

    d = tmp_path_factory.mktemp("demo")
    paths = make_demo_data(str(d), pairs=8, seed=3)
    return {"dir": str(d), **paths}


@pytest.fixture(scope="session")
def dt_dv_pair(demo):
    """Two pairs, one D_t and one D_v whose rejected image differs: a batch of 2 always holds both."""
    recs = [json.loads(l) for l in open(demo["prefs"])][:2]
    assert "rejected_image" not in recs[0] and recs[1]["rejected_image"] != recs[1]["image"]
    f = os.path.join(demo["dir"], "pair.jsonl")
    with open(f, "w") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in recs)
    return {"prefs": f, "dir": demo["dir"]}
