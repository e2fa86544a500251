"""The weighted DPO loss: s′ scales each pair's gradient linearly; weight 0 drops a pair."""
import torch

from trainer.data import load_preferences
from trainer.modeling import load_model, packed_logps, row_groups, sequence_logps, weighted_dpo_loss
from trainer.train import Batcher


def _setup(tiny_dir, demo):
    ld = load_model(tiny_dir, device="cpu", dtype="fp32", lora={"r": 4, "alpha": 8, "dropout": 0.0})
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for n, p in ld.model.named_parameters():
            if "lora_" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    recs = load_preferences(demo["prefs"])[:4]
    pk, _ = Batcher(ld, 1024, cache=False).dpo(recs)  # the training path's packed batch
    with torch.no_grad(), ld.model.disable_adapter():
        ref, _ = packed_logps(ld.model, pk)
    return ld, pk, ref


def _grad(ld, batch, ref, w):
    ld.model.zero_grad(set_to_none=True)
    logps, _ = packed_logps(ld.model, batch)
    n = w.shape[0]
    losses, _, _ = weighted_dpo_loss(logps[:n], logps[n:], ref[:n], ref[n:], w, 0.1)
    losses.mean().backward()
    return torch.cat([p.grad.flatten() for p in ld.model.parameters() if p.requires_grad])


def test_doubling_weight_doubles_pair_contribution(tiny_dir, demo):
    ld, batch, ref = _setup(tiny_dir, demo)
    w = torch.tensor([1.0, 0.8, 1.2, 0.9])
    j = 2
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
    # the whole-batch gradient grows by exactly pair j's contribution
    torch.testing.assert_close(g_all2 - g_all, g_j, rtol=1e-4, atol=1e-8)


def test_zero_weight_drops_pair_and_unit_weights_are_plain_dpo(tiny_dir, demo):
    ld, batch, ref = _setup(tiny_dir, demo)
    ones = torch.ones(4)
    g1 = _grad(ld, batch, ref, ones)
    dropped = ones.clone()
    dropped[0] = 0
    g0 = _grad(ld, batch, ref, dropped)
    only0 = torch.zeros(4)
    only0[0] = 1
    torch.testing.assert_close(g1 - g0, _grad(ld, batch, ref, only0), rtol=1e-4, atol=1e-8)
    # closed form of plain DPO at these log-probs
    with torch.no_grad():
        logps, _ = packed_logps(ld.model, batch)
        losses, cr, rr = weighted_dpo_loss(logps[:4], logps[4:], ref[:4], ref[4:], ones, 0.1)
        manual = -torch.log(torch.sigmoid(0.1 * ((logps[:4] - ref[:4]) - (logps[4:] - ref[4:]))))
    torch.testing.assert_close(losses, manual)


def test_packed_forward_equals_standard_forward(tiny_dir, demo):
    """Shared-prompt rows, one vision pass per unique image and an LM head on response tokens only give the
    same per-sequence log-probs as the plain padded [chosen; rejected] forward (also under truncation)."""
    ld = load_model(tiny_dir, device="cpu", dtype="fp32", lora={"r": 4, "alpha": 8, "dropout": 0.0})
    g = torch.Generator().manual_seed(9)
    with torch.no_grad():
        for n, p in ld.model.named_parameters():
            if "lora_" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    recs = load_preferences(demo["prefs"])
    recs[0]["chosen"] = "There is a small left pleural effusion and mild cardiomegaly."
    for max_len in (1024, 60):
        b = Batcher(ld, max_len, cache=False)
        pk, _ = b.dpo(recs)
        assert pk.input_ids.shape[0] == len(recs) + sum(r["image"] != r["rejected_image"] for r in recs)
        assert len(set(pk.pixel_values.shape[:1])) == 1 and pk.pixel_values.shape[0] < 2 * len(recs)
        with torch.no_grad():
            std, cnt_s = sequence_logps(ld.model, *b.dpo_standard(recs))
            lengths = (pk.segments >= 0).sum(1).tolist()
            assert len(row_groups(lengths, 1.0, 0.0, 0)) > 1
            for slack, saving, tokens in ((0.9, 0.05, 256), (1.0, 0.0, 0)):  # (1, 0, 0): one group per distinct length
                packed, cnt_p = packed_logps(ld.model, pk, group_slack=slack, group_min_saving=saving,
                                             group_min_tokens=tokens)
                torch.testing.assert_close(cnt_p, cnt_s)
                torch.testing.assert_close(packed, std, rtol=1e-5, atol=2e-5)
    assert len(row_groups([900, 880, 750, 750, 750, 740], 0.85)) == 2
    assert len(row_groups([90, 88, 75, 75, 75, 74], 0.85)) == 1  # too few tokens saved for another forward
    assert row_groups([50, 49, 48]) == [[0, 1, 2]]
    assert row_groups([900, 850, 769, 750, 740, 705]) == [[0, 1], [2, 3, 4, 5]]
