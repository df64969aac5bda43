"""Framework defaults (fastinit.defaults): torch's nn.Linear / nn.Conv / nn.Embedding
reset_parameters, Flax's Dense defaults, Martens' sparse init and GPT-2's depth-scaled normal.

Bounds and stds are written out from the shapes here (fans hand-computed in comments); torch's
own layers are the reference for the torch defaults (two-sample KS). Fixed seeds throughout.
"""
import math
import warnings

import numpy as np
import pytest
from scipy import stats

import fastinit
from fastinit import defaults
from _laws import P_MIN, TRUNC, check_normal, check_truncnorm, check_uniform  # noqa: F401
from _util import BF16, F16, F32, F64, as_bits, dtype_params, sentinel

# ---- torch's nn.Linear / nn.ConvNd ----------------------------------------------------------

TORCH_LAYERS = [
    # (weight shape, fan_in by hand)
    ((256, 300), 300),              # Linear(300, 256)
    ((4096, 8), 8),                 # Linear(8, 4096): a long bias
    ((64, 32, 3, 3), 288),          # Conv2d(32, 64, 3): 32 * 3 * 3
    ((128, 16, 5, 3), 240),         # Conv2d(16, 128, (5, 3)): 16 * 15
    ((96, 24, 7), 168),             # Conv1d(24, 96, 7)
]


@pytest.mark.parametrize("shape, fan_in", TORCH_LAYERS, ids=str)
def test_torch_linear_weight_and_bias(shape, fan_in):
    w = np.empty(shape, np.float32)
    b = np.empty(shape[0], np.float32)
    got = defaults.torch_linear_(w, b, generator=3)
    assert got[0] is w and got[1] is b
    bound = 1.0 / math.sqrt(fan_in)
    check_uniform(w, -bound, bound)
    bb = b.astype(np.float64)
    assert bb.min() >= -bound and bb.max() < bound
    assert stats.kstest(bb, stats.uniform(loc=-bound, scale=2 * bound).cdf).pvalue > P_MIN
    if b.size >= 4096:
        check_uniform(b, -bound, bound)


def test_torch_conv_is_torch_linear():
    assert defaults.torch_conv_ is defaults.torch_linear_


def test_torch_linear_bias_none():
    w = np.empty((30, 20), np.float32)
    assert defaults.torch_linear_(w, generator=1) == (w, None)
    assert np.abs(w).max() < 1 / math.sqrt(20)


def test_torch_linear_one_stream():
    """generator= gives the weight and then the bias from one stream (not two copies)."""
    w1, b1 = defaults.torch_linear_(np.empty((64, 50), np.float32), np.empty(64, np.float32),
                                    generator=9)
    w2, b2 = defaults.torch_linear_(np.empty((64, 50), np.float32), np.empty(64, np.float32),
                                    generator=fastinit.Generator(9))
    assert np.array_equal(w1, w2) and np.array_equal(b1, b2)
    bound = 1 / math.sqrt(50)
    restart = fastinit.uniform_(np.empty(64, np.float32), -bound, bound, generator=9)
    assert not np.array_equal(b1, restart)
    # and the weight alone is kaiming_uniform_(a=sqrt(5)) of that seed
    ref = fastinit.kaiming_uniform_(np.empty((64, 50), np.float32), a=math.sqrt(5), generator=9)
    assert np.array_equal(w1, ref)


@pytest.mark.parametrize("kind", ["linear", "conv2d"])
def test_torch_linear_matches_torch_layers(kind):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    if kind == "linear":
        layer = torch.nn.Linear(200, 384)           # weight (384, 200), fan_in 200
    else:
        layer = torch.nn.Conv2d(32, 128, (3, 5))    # weight (128, 32, 3, 5), fan_in 480
    ref_w = layer.weight.detach().numpy().astype(np.float64).ravel()
    w = np.empty(tuple(layer.weight.shape), np.float32)
    b = np.empty(tuple(layer.bias.shape), np.float32)
    defaults.torch_linear_(w, b, generator=5)
    p = stats.ks_2samp(w.astype(np.float64).ravel(), ref_w).pvalue
    assert p > P_MIN, f"two-sample KS against torch's weights: p={p:.3g}"
    # the same support as torch's
    fan_in = 200 if kind == "linear" else 480
    bound = 1 / math.sqrt(fan_in)
    assert np.abs(ref_w).max() <= bound and np.abs(w).max() <= bound
    ref_b = layer.bias.detach().numpy().astype(np.float64)
    assert np.abs(ref_b).max() <= bound and np.abs(b).max() <= bound
    assert stats.ks_2samp(b.astype(np.float64), ref_b).pvalue > P_MIN


@pytest.mark.parametrize("dtype", dtype_params([F16, BF16, F64]))
def test_torch_linear_dtypes(dtype):
    w = np.empty((256, 64), dtype)
    b = np.empty(256, dtype)
    defaults.torch_linear_(w, b, generator=2)
    wf, bf = w.astype(np.float64), b.astype(np.float64)
    bound = 1 / 8
    assert np.abs(wf).max() <= bound and np.abs(bf).max() <= bound
    assert abs(wf.std() / (bound / math.sqrt(3)) - 1) < 0.03
    assert wf.max() > 0.98 * bound and wf.min() < -0.98 * bound


def test_torch_linear_zero_fan_in():
    w = np.empty((5, 0), np.float32)
    b = np.full(5, 7.0, np.float32)
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        defaults.torch_linear_(w, b, generator=0)
    assert np.all(b == 0)          # bound 0 when fan_in is 0, as torch


def test_torch_linear_bad_weight_leaves_both_unchanged():
    w = sentinel((8,), np.float32)
    b = sentinel((8,), np.float32)
    wb, bb = as_bits(w).copy(), as_bits(b).copy()
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        defaults.torch_linear_(w, b, generator=0)
    assert np.array_equal(as_bits(w), wb) and np.array_equal(as_bits(b), bb)


# BUG (reported): the weight is written before the bias is checked, so a bad bias raises
# after the weight has been overwritten (every other in-place function checks everything
# before writing anything).
@pytest.mark.parametrize("bad_bias", [np.zeros(8, np.int32), [0.0] * 8, "read-only"],
                         ids=["int-dtype", "list", "read-only"])
def test_torch_linear_bad_bias_leaves_weight_unchanged(bad_bias):
    if isinstance(bad_bias, str):
        bad_bias = np.zeros(8, np.float32)
        bad_bias.flags.writeable = False
    w = sentinel((8, 4), np.float32)
    before = as_bits(w).copy()
    with pytest.raises((TypeError, ValueError)):
        defaults.torch_linear_(w, bad_bias, generator=0)
    assert np.array_equal(as_bits(w), before), "the weight was overwritten before the error"


# ---- torch's nn.Embedding ----------------------------------------------------------------

def test_torch_embedding_normal():
    w = np.empty((8000, 8), np.float32)
    assert defaults.torch_embedding_(w, generator=4) is w
    check_normal(w, 0.0, 1.0)


@pytest.mark.parametrize("padding_idx, row", [(0, 0), (17, 17), (-1, 49), (-50, 0)])
def test_torch_embedding_padding_idx(padding_idx, row):
    w = np.empty((50, 16), np.float32)
    defaults.torch_embedding_(w, padding_idx=padding_idx, generator=4)
    assert np.all(w[row] == 0)
    others = np.delete(w, row, axis=0)
    assert np.all(others != 0)
    # the other rows are exactly the unpadded fill
    ref = defaults.torch_embedding_(np.empty((50, 16), np.float32), generator=4)
    assert np.array_equal(others, np.delete(ref, row, axis=0))


def test_torch_embedding_like_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    emb = torch.nn.Embedding(4000, 10, padding_idx=3)
    ref = emb.weight.detach().numpy()
    w = defaults.torch_embedding_(np.empty((4000, 10), np.float32), padding_idx=3, generator=1)
    assert np.all(ref[3] == 0) and np.all(w[3] == 0)
    p = stats.ks_2samp(np.delete(w, 3, 0).ravel(), np.delete(ref, 3, 0).ravel()).pvalue
    assert p > P_MIN


# BUG (reported): torch_embedding_ fills the weight with N(0, 1) before checking padding_idx,
# so a bad padding_idx raises ValueError after the weight has been overwritten.
@pytest.mark.parametrize("padding_idx", [50, -51, True, 1.0, "0"])
def test_torch_embedding_bad_padding_idx_leaves_weight_unchanged(padding_idx):
    w = sentinel((50, 4), np.float32)
    before = as_bits(w).copy()
    with pytest.raises(ValueError, match="padding_idx"):
        defaults.torch_embedding_(w, padding_idx=padding_idx, generator=0)
    assert np.array_equal(as_bits(w), before), "the weight was overwritten before the error"


# ---- Flax ---------------------------------------------------------------------------------

def test_flax_defaults():
    kernel_init, bias_init = defaults.flax_defaults(seed=3)
    assert isinstance(kernel_init, fastinit.LecunNormal)
    assert bias_init is fastinit.zeros
    # kernel (3, 5, 32, 96): fan_in = 3 * 5 * 32 = 480
    k = kernel_init((3, 5, 32, 96))
    std = math.sqrt(1 / 480) / TRUNC
    check_truncnorm(k, 0.0, std, -2 * std, 2 * std)
    assert abs(k.std() * math.sqrt(480) - 1) < 0.02        # variance 1/fan_in after truncation
    assert np.array_equal(k, defaults.flax_defaults(seed=3)[0]((3, 5, 32, 96)))
    b = bias_init((96,))
    assert b.shape == (96,) and np.all(b == 0)


@pytest.mark.parametrize("shape, fan_in", [((192, 384), 192), ((3, 5, 32, 96), 480)],
                         ids=["dense", "conv"])
def test_flax_dense_(shape, fan_in):
    k = np.empty(shape, np.float32)
    b = sentinel(shape[-1:], np.float32)
    got = defaults.flax_dense_(k, b, generator=6)
    assert got[0] is k and got[1] is b
    std = math.sqrt(1 / fan_in) / TRUNC
    check_truncnorm(k, 0.0, std, -2 * std, 2 * std)
    assert np.all(b == 0)
    k2, _ = defaults.flax_dense_(np.empty(shape, np.float32), generator=6)
    assert np.array_equal(k, k2)


def test_flax_dense_does_not_use_default_generator_seed():
    a, _ = defaults.flax_dense_(np.empty((20, 30), np.float32), generator=1)
    b, _ = defaults.flax_dense_(np.empty((20, 30), np.float32), generator=2)
    assert not np.array_equal(a, b)


# BUG (reported): as torch_linear_, the kernel is written before the bias is checked.
def test_flax_dense_bad_bias_leaves_kernel_unchanged():
    k = sentinel((8, 4), np.float32)
    before = as_bits(k).copy()
    with pytest.raises(TypeError):
        defaults.flax_dense_(k, np.zeros(4, np.int32), generator=0)
    assert np.array_equal(as_bits(k), before), "the kernel was overwritten before the error"


# ---- Martens' sparse init -------------------------------------------------------------------

@pytest.mark.parametrize("shape, fan_in, k", [
    ((300, 200), 200, 15),
    ((64, 16, 3, 3), 144, 15),        # fan_in 16 * 3 * 3
    ((40, 6, 5), 30, 7),              # fan_in 6 * 5
    ((50, 10), 10, 15),               # k > fan_in: every weight nonzero
    ((20, 10), 10, 0),                # k = 0: all zero
    ((20, 10), 10, 10),
], ids=str)
def test_martens_sparse_(shape, fan_in, k):
    t = np.empty(shape, np.float32)
    assert defaults.martens_sparse_(t, k, 0.5, generator=7) is t
    nz = (t.reshape(shape[0], fan_in) != 0).sum(axis=1)
    assert np.all(nz == min(k, fan_in)), np.unique(nz)


def test_martens_sparse_values_and_positions():
    t = defaults.martens_sparse_(np.empty((2000, 100), np.float32), 25, 0.3, generator=8)
    nz = t[t != 0]
    assert nz.size == 2000 * 25
    check_normal(nz, 0.0, 0.3)
    # every incoming position equally likely to be kept
    per_input = (t != 0).sum(axis=0)
    p = stats.chisquare(per_input, np.full(100, 2000 * 25 / 100)).pvalue
    assert p > P_MIN
    # reproducible, and following the generator
    same = defaults.martens_sparse_(np.empty((2000, 100), np.float32), 25, 0.3, generator=8)
    assert np.array_equal(as_bits(t), as_bits(same))
    other = defaults.martens_sparse_(np.empty((2000, 100), np.float32), 25, 0.3, generator=9)
    assert not np.array_equal(t != 0, other != 0)


def test_martens_sparse_default_k_and_std():
    t = defaults.martens_sparse_(np.empty((3000, 40), np.float64), generator=1)
    assert np.all((t != 0).sum(axis=1) == 15)
    check_normal(t[t != 0], 0.0, 1.0)


@pytest.mark.parametrize("shape, fan_in", [((200, 300), 200), ((3, 3, 16, 64), 144),
                                           ((5, 8, 40), 40)], ids=str)
def test_MartensSparse_jax_layout(shape, fan_in):
    init = defaults.MartensSparse(12, 0.2, seed=3)
    x = init(shape)
    assert x.shape == shape and x.dtype == F32
    cols = x.reshape(fan_in, shape[-1])          # incoming axes flattened, output units last
    assert np.all((cols != 0).sum(axis=0) == 12)
    assert np.array_equal(as_bits(x), as_bits(init(shape)))


def test_MartensSparse_values():
    x = defaults.MartensSparse(20, 0.7, seed=5)((100, 3000))
    nz = x[x != 0]
    assert nz.size == 20 * 3000
    check_normal(nz, 0.0, 0.7)
    per_input = (x != 0).sum(axis=1)
    assert stats.chisquare(per_input, np.full(100, 600.0)).pvalue > P_MIN


def test_MartensSparse_config_and_get():
    init = defaults.MartensSparse(7, 0.5, seed=2)
    cfg = init.get_config()
    assert cfg == {"k": 7, "stddev": 0.5, "seed": 2}
    assert defaults.MartensSparse.from_config(cfg).get_config() == cfg
    back = fastinit.get(fastinit.serialize(init))
    assert type(back) is defaults.MartensSparse and back.get_config() == cfg
    assert type(fastinit.get("martens_sparse")) is defaults.MartensSparse
    assert type(fastinit.get("MartensSparse")) is defaults.MartensSparse
    assert "MartensSparse(" in repr(init) and "k=7" in repr(init)


@pytest.mark.parametrize("call", [
    lambda t: defaults.martens_sparse_(t, k=-1),
    lambda t: defaults.martens_sparse_(t, k=2.5),
    lambda t: defaults.martens_sparse_(t, k=True),
    lambda t: defaults.martens_sparse_(t, std=-1.0),
    lambda t: defaults.martens_sparse_(t[0]),
], ids=["k-negative", "k-float", "k-bool", "std-negative", "1d"])
def test_martens_sparse_errors(call):
    t = sentinel((6, 5), np.float32)
    before = as_bits(t).copy()
    with pytest.raises(ValueError):
        call(t)
    assert np.array_equal(as_bits(t), before)


def test_MartensSparse_errors():
    with pytest.raises(ValueError):
        defaults.MartensSparse(k=-1)
    with pytest.raises(ValueError):
        defaults.MartensSparse(stddev=-0.1)
    with pytest.raises(ValueError):
        defaults.MartensSparse(seed=-3)
    with pytest.raises(ValueError):
        defaults.MartensSparse(seed=0)((7,))


# ---- GPT-2's depth-scaled normal ----------------------------------------------------------

@pytest.mark.parametrize("std, num_layers", [(0.02, 1), (0.02, 12), (1.0, 48), (0.5, 3)])
def test_depth_scaled_normal_(std, num_layers):
    t = np.empty((256, 200), np.float32)
    assert defaults.depth_scaled_normal_(t, std, num_layers, generator=3) is t
    check_normal(t, 0.0, std / math.sqrt(2 * num_layers))


def test_depth_scaled_normal_defaults():
    t = defaults.depth_scaled_normal_(np.empty((300, 200)), generator=2)
    check_normal(t, 0.0, 0.02 / math.sqrt(2))


def test_DepthScaledNormal():
    init = defaults.DepthScaledNormal(0.03, 24, seed=5)
    x = init((200, 300))
    check_normal(x, 0.0, 0.03 / math.sqrt(48))
    assert np.array_equal(as_bits(x), as_bits(init((200, 300))))
    cfg = init.get_config()
    assert cfg == {"stddev": 0.03, "num_layers": 24, "seed": 5}
    assert defaults.DepthScaledNormal.from_config(cfg).get_config() == cfg
    back = fastinit.get(fastinit.serialize(init))
    assert type(back) is defaults.DepthScaledNormal and back.get_config() == cfg
    assert np.array_equal(as_bits(back((200, 300))), as_bits(x))
    assert type(fastinit.get("depth_scaled_normal")) is defaults.DepthScaledNormal
    assert type(fastinit.get("DepthScaledNormal")) is defaults.DepthScaledNormal
    assert repr(init) == "DepthScaledNormal(stddev=0.03, num_layers=24, seed=5)"


@pytest.mark.parametrize("kw", [{"num_layers": 0}, {"num_layers": -2}, {"num_layers": 1.5},
                                {"num_layers": True}, {"std": -0.1}, {"std": math.nan}],
                         ids=str)
def test_depth_scaled_normal_errors(kw):
    t = sentinel((6, 5), np.float32)
    before = as_bits(t).copy()
    with pytest.raises(ValueError):
        defaults.depth_scaled_normal_(t, **kw)
    assert np.array_equal(as_bits(t), before)
    ckw = {("stddev" if k == "std" else k): v for k, v in kw.items()}
    with pytest.raises(ValueError):
        defaults.DepthScaledNormal(**ckw)


def test_defaults_zero_element():
    for fill in (lambda t: defaults.martens_sparse_(t, generator=0),
                 lambda t: defaults.depth_scaled_normal_(t, generator=0),
                 lambda t: defaults.torch_embedding_(t, generator=0)):
        t = np.empty((0, 4), np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert fill(t) is t
    for init in (defaults.MartensSparse(seed=0), defaults.DepthScaledNormal(seed=0)):
        assert init((3, 0)).shape == (3, 0)
