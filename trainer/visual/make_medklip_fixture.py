"""Builds test/fixtures/medklip-tiny.onnx (+ .json contract): a MedKLIP-shaped stand-in
for testing the `medklip` adapter — input 1×3×32×32, outputs attention [5, 1, 75, 196]
(per decoder layer) and logits [1, 75, 2]. Entity 29 is "disease".

- Layer 0 of entity 29 peaks at patch (0, 0) with a large value; layers 1–4 peak at
  (3, 10): averaging the last 4 layers (as the contract says) must point at (3, 10).
- Other entities peak at (12, 2).
- logits[0, e] = mean(normalized image) · [0, 10]: s_v = sigmoid(10·mean).

    .mmedpo/venv/bin/python -m trainer.visual.make_medklip_fixture test/fixtures
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

E, P, L = 75, 196, 5


def main(out_dir: str) -> None:
    att = np.full((L, 1, E, P), 0.001, dtype=np.float32)
    att[:, 0, :, 12 * 14 + 2] = 0.5
    att[:, 0, 29, :] = 0.001
    att[0, 0, 29, 0] = 100.0
    att[1:, 0, 29, 3 * 14 + 10] = 1.0
    w = np.zeros((1, E, 2), dtype=np.float32)
    w[:, :, 1] = 10.0
    nodes = [
        helper.make_node('ReduceMean', ['image'], ['m'], keepdims=0),
        helper.make_node('Identity', ['att_const'], ['attention']),
        helper.make_node('Mul', ['m', 'w_const'], ['logits']),
    ]
    graph = helper.make_graph(
        nodes, 'medklip_tiny',
        [helper.make_tensor_value_info('image', TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info('attention', TensorProto.FLOAT, [L, 1, E, P]),
         helper.make_tensor_value_info('logits', TensorProto.FLOAT, [1, E, 2])],
        [numpy_helper.from_array(att, 'att_const'), numpy_helper.from_array(w, 'w_const')],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)], producer_name='mmedpo-fixture')
    model.ir_version = 8
    onnx.checker.check_model(model)
    os.makedirs(out_dir, exist_ok=True)
    onnx.save(model, os.path.join(out_dir, 'medklip-tiny.onnx'))
    entities = [f'entity{i}' for i in range(E)]
    entities[29] = 'disease'
    contract = {
        'name': 'medklip-tiny',
        'adapter': 'medklip',
        'description': 'MedKLIP-shaped test fixture (not a model): see trainer/visual/make_medklip_fixture.py',
        'input': {'name': 'image', 'layout': 'NCHW', 'channels': 3, 'height': 32, 'width': 32, 'resize': 'bilinear',
                  'scale': 1 / 255, 'mean': [0.485, 0.456, 0.406], 'std': [0.229, 0.224, 0.225]},
        'outputs': {'attention': 'attention', 'attentionLayout': 'L,B,E,P', 'layers': 4, 'grid': [14, 14],
                    'logits': 'logits', 'positiveIndex': 1, 'entities': entities},
    }
    with open(os.path.join(out_dir, 'medklip-tiny.json'), 'w') as f:
        json.dump(contract, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures')
