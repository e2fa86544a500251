import json
import os

import numpy as np
import onnx
import torch

from trainer.visual.data import HEAT, INPUT, area_down
from trainer.visual.model import Localizer
from trainer.visual.train import auroc, export

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
MODEL = os.path.join(ROOT, 'models', 'visual-tool', 'phantom-localizer.onnx')


def test_area_down_is_block_mean():
    a = np.arange(16, dtype=np.float32).reshape(4, 4)
    assert area_down(a, 2).tolist() == [[2.5, 4.5], [10.5, 12.5]]


def test_forward_shapes_and_export(tmp_path):
    torch.manual_seed(0)
    m = Localizer(4)
    h, c = m(torch.zeros(2, 1, INPUT, INPUT))
    assert tuple(h.shape) == (2, 1, HEAT, HEAT) and tuple(c.shape) == (2, 1)
    p = str(tmp_path / 'm.onnx')
    export(m, p)
    g = onnx.load(p)
    onnx.checker.check_model(g)
    assert [i.name for i in g.graph.input] == ['image']
    assert [o.name for o in g.graph.output] == ['heatmap', 'prob']


def test_auroc():
    assert auroc(np.array([0.9, 0.1]), np.array([1, 0])) == 1.0
    assert auroc(np.array([0.5, 0.5]), np.array([1, 0])) == 0.5


def test_bundled_model_matches_its_contract():
    assert os.path.getsize(MODEL) <= 2 * 1024 * 1024
    contract = json.load(open(MODEL.replace('.onnx', '.json')))
    g = onnx.load(MODEL)
    onnx.checker.check_model(g)
    inp = g.graph.input[0]
    assert inp.name == contract['input']['name']
    dims = [d.dim_value for d in inp.type.tensor_type.shape.dim][1:]
    assert dims == [contract['input']['channels'], contract['input']['height'], contract['input']['width']]
    outs = [o.name for o in g.graph.output]
    assert contract['outputs']['heatmap'] in outs and contract['outputs']['confidence'] in outs
