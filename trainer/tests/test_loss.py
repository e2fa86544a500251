"""The weighted DPO loss (Eq. 3): s′ scales each pair's gradient linearly, weight 0 drops a pair, weight 1 is
plain DPO; and the shared-prompt layout gives the same log-probs as the concatenated one."""
import pytest
import torch

from trainer.batching import PreferenceCollator
from trainer.data import load_preferences
from trainer.modeling import load_model, sequence_logps, weighted_dpo_loss


def _model(model_dir, seed=5):
    ld = load_model(model_dir, device="cpu", dtype="fp32", lora={"r": 4, "alpha": 8, "dropout": 0.0})
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in ld.model.named_parameters():
            if "lora_" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return ld


@pytest.fixture(scope="module")
def setup(tiny_dir, demo):
    ld = _model(tiny_dir)
    recs = load_preferences(demo["prefs"])[:4]  # 2 D_t + 2 D_v pairs
    batch = PreferenceCollator(ld, 1024, cache=False, share_prompt=True)([(i, r) for i, r in enumerate(recs)])
    with torch.no_grad(), ld.model.disable_adapter():
        ref, _ = sequence_logps(ld.model, batch)
    return ld, batch, ref


def _grad(ld, batch, ref, w):
    ld.model.zero_grad(set_to_none=True)
    logps, _ = sequence_logps(ld.model, batch)
    n = w.shape[0]
    losses, _, _ = weighted_dpo_loss(logps[:n], logps[n:], ref[:n], ref[n:], w, 0.1)
    losses.mean().backward()
    return torch.cat([p.grad.flatten() for p in ld.model.parameters() if p.requires_grad])


def test_doubling_weight_doubles_pair_contribution(setup):
    ld, batch, ref = setup
    w = torch.tensor([1.0, 0.8, 1.2, 0.9])
    j = 3  # a D_v pair: its rejected answer is scored on x*
    only_j = torch.zeros(4)
    only_j[j] = w[j]
    g_j = _grad(ld, batch, ref, only_j)                 # pair j's contribution at s′_j
    g_j2 = _grad(ld, batch, ref, only_j * 2)            # … at 2·s′_j
    assert g_j.abs().max() > 1e-6
    torch.testing.assert_close(g_j2, 2 * g_j, rtol=1e-5, atol=1e-9)
    w2 = w.clone()
    w2[j] *= 2
    g_all = _grad(ld, batch, ref, w)
    g_all2 = _grad(ld, batch, ref, w2)
    # the whole-batch gradient grows by exactly pair j's contribution, up to float32 rounding of the two whole-batch
    # gradients being subtracted (32 ulps of their largest entry; g_j itself is ~2e4 times that)
    scale = float(torch.finfo(torch.float32).eps) * float(g_all.abs().max())
    torch.testing.assert_close(g_all2 - g_all, g_j, rtol=1e-4, atol=32 * scale)


def test_zero_weight_drops_pair_and_unit_weights_are_plain_dpo(setup):
    ld, batch, ref = setup
    ones = torch.ones(4)
    g1 = _grad(ld, batch, ref, ones)
    dropped = ones.clone()
    dropped[0] = 0
    g0 = _grad(ld, batch, ref, dropped)
    only0 = torch.zeros(4)
    only0[0] = 1
    torch.testing.assert_close(g1 - g0, _grad(ld, batch, ref, only0), rtol=1e-4, atol=1e-8)
    with torch.no_grad():  # closed form of plain DPO at these log-probs
        logps, _ = sequence_logps(ld.model, batch)
        losses, cr, rr = weighted_dpo_loss(logps[:4], logps[4:], ref[:4], ref[4:], ones, 0.1)
        manual = -torch.log(torch.sigmoid(0.1 * ((logps[:4] - ref[:4]) - (logps[4:] - ref[4:]))))
    torch.testing.assert_close(losses, manual)
    torch.testing.assert_close(cr, 0.1 * (logps[:4] - ref[:4]))


@pytest.mark.parametrize("family", ["llava", "llava_next", "idefics3", "qwen2_vl", "qwen2_5_vl"])
def test_shared_prompt_equals_concatenated(family, tiny_models, demo):
    """A D_t pair as one row [prompt, chosen, rejected] (branch mask, both answers continuing the prompt's
    positions — Qwen's 3-D M-RoPE ones too) gives the per-sequence log-probs of one row per answer, also when
    answers are truncated."""
    ld = _model(tiny_models(family), seed=9)
    recs = load_preferences(demo["prefs"])
    recs[0]["chosen"] = "There is a small left pleural effusion and mild cardiomegaly."
    items = [(i, r) for i, r in enumerate(recs)]
    n_dv = sum(r["image"] != r["rejected_image"] for r in recs)
    full = PreferenceCollator(ld, 1024, cache=False, share_prompt=True)(items)
    prompt_len = int(full["tgt_pos"][0]) + 1  # the first answer token is predicted from the last prompt token
    for max_len in (1024, prompt_len + 5):
        shared = PreferenceCollator(ld, max_len, cache=False, share_prompt=True)(items)
        plain = PreferenceCollator(ld, max_len, cache=False, share_prompt=False)(items)
        assert shared["input_ids"].shape[0] == len(recs) + n_dv and plain["input_ids"].shape[0] == 2 * len(recs)
        assert "position_ids" in shared and "position_ids" not in plain
        with torch.no_grad():
            a, ca = sequence_logps(ld.model, shared, mrope=ld.family.mrope)
            b, cb = sequence_logps(ld.model, plain, mrope=ld.family.mrope)
        torch.testing.assert_close(ca, cb)
        torch.testing.assert_close(a, b, rtol=1e-5, atol=2e-5)
    assert int(ca[0]) == 5 < int(full["tgt_seq"].eq(0).sum())  # the long answer was truncated
