"""patch() through every route model code takes to torch's fills (issue 17):

- Tensor methods: ``t.normal_``/``t.uniform_`` (a Parameter's ``.data`` included) give the
  bits of ``nn.init.normal_``/``uniform_`` after the same seed, which are fastinit's; ``fill_``
  and ``zero_`` from FILL_MIN_NUMEL elements give torch's own bits through fastinit; anything
  else (other dtypes, tensors requiring grad, bad arguments) is torch's, errors and RNG state
  included.
- Functions bound by name anywhere (``from torch.nn.init import normal_``), rebound on entry
  and restored on exit; bindings made inside the block do not outlive it.
- transformers: ``TORCH_INIT_FUNCTIONS`` and so ``transformers.initialization`` and every
  ``_init_weights``; ``_is_hf_initialized`` respected; a tiny Llama built from a config.
- timm (where installed; see the README): ``trunc_normal_``/``trunc_normal_tf_`` with timm's
  meanings, ``variance_scaling_``/``lecun_normal_`` through them, wherever bound.
"""
import math
import sys
import types
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastinit  # noqa: E402
import fastinit.init as fi_init  # noqa: E402
import fastinit.torch as ft  # noqa: E402
from _laws import check_normal, check_truncnorm, check_uniform  # noqa: E402
from _util import as_bits  # noqa: E402
from test_torch import NUMPY_DTYPE, TORCH_DTYPES, tensor_bits  # noqa: E402

nn = torch.nn
init = torch.nn.init
BASE = torch._C.TensorBase
ORIGINAL_INIT = {name: getattr(init, name) for name in ft.FUNCTIONS}


def methods_are_torchs():
    return all(name not in torch.Tensor.__dict__ for name in ft.METHODS)


@pytest.fixture(autouse=True)
def clean_torch_state():
    assert methods_are_torchs() and not ft.is_installed()
    rng = torch.get_rng_state()
    yield
    while ft.uninstall():
        pass
    assert methods_are_torchs()
    assert all(getattr(init, n) is fn for n, fn in ORIGINAL_INIT.items())
    torch.set_rng_state(rng)


def counting(monkeypatch, name):
    """Count the calls that reach fastinit.init.<name>."""
    calls = []
    fn = getattr(fi_init, name)

    def spy(*a, **k):
        calls.append(a[0])
        return fn(*a, **k)
    monkeypatch.setattr(fi_init, name, spy)
    return calls


# ---- Tensor methods ---------------------------------------------------------------------------

def test_methods_installed_and_restored():
    before = {n: getattr(torch.Tensor, n) for n in ft.METHODS}
    with ft.patch():
        for n in ft.METHODS:
            m = torch.Tensor.__dict__[n]
            assert m.__fastinit__ and m.__wrapped__ is before[n] and m.__doc__ == before[n].__doc__
            assert nn.Parameter.normal_ is torch.Tensor.__dict__["normal_"]
        with ft.patch():
            assert torch.Tensor.__dict__["normal_"].__wrapped__.__fastinit__
        assert torch.Tensor.__dict__["normal_"].__wrapped__ is before["normal_"]
    assert methods_are_torchs()
    assert all(getattr(torch.Tensor, n) is before[n] for n in ft.METHODS)


METHOD_CALLS = {
    # name: (method call, nn.init call, numpy prediction)
    "normal_": (lambda t, **k: t.normal_(0.5, 2.0, **k),
                lambda t, **k: init.normal_(t, 0.5, 2.0, **k),
                lambda a, g: fastinit.normal_(a, 0.5, 2.0, generator=g)),
    "uniform_": (lambda t, **k: t.uniform_(-1.5, 2.0, **k),
                 lambda t, **k: init.uniform_(t, -1.5, 2.0, **k),
                 lambda a, g: fastinit.uniform_(a, -1.5, 2.0, generator=g)),
}


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
@pytest.mark.parametrize("name", list(METHOD_CALLS))
def test_method_bits_equal_nn_init(name, dtype):
    method, function, predict = METHOD_CALLS[name]
    shape = (37, 29)
    expected = predict(np.empty(shape, NUMPY_DTYPE[dtype]), torch.Generator().manual_seed(5))
    got = []
    for call in (method, function):
        torch.manual_seed(5)
        t = torch.empty(shape, dtype=dtype)
        with ft.patch():
            assert call(t) is t
        got.append(tensor_bits(t))
    assert np.array_equal(got[0], as_bits(expected))
    assert np.array_equal(got[1], got[0])
    torch.manual_seed(5)
    theirs = method(torch.empty(shape, dtype=dtype))
    assert not np.array_equal(tensor_bits(theirs), got[0]), "torch's own values"


def test_method_generator_keyword_and_parameter_data():
    p = nn.Parameter(torch.empty(64, 48))
    with ft.patch():
        v = p.data.normal_(mean=0.0, std=0.02, generator=torch.Generator().manual_seed(9))
        assert v.data_ptr() == p.data_ptr()
        u = torch.empty(64, 48)
        u.uniform_(**{"from": -0.1, "to": 0.1}, generator=torch.Generator().manual_seed(9))
    ref = fastinit.normal_(np.empty((64, 48), np.float32), 0.0, 0.02,
                           generator=torch.Generator().manual_seed(9))
    assert np.array_equal(p.detach().numpy(), ref)
    ref = fastinit.uniform_(np.empty((64, 48), np.float32), -0.1, 0.1,
                            generator=torch.Generator().manual_seed(9))
    assert np.array_equal(u.numpy(), ref)


def test_method_law():
    t = torch.empty(200_000, dtype=torch.float64)
    with ft.patch():
        torch.manual_seed(11)
        check_normal(t.normal_(1.0, 3.0).numpy(), 1.0, 3.0)
        check_uniform(t.uniform_(-2.0, 5.0).numpy(), -2.0, 5.0)


def test_method_bumps_version_and_keeps_autograd_rules(monkeypatch):
    calls = counting(monkeypatch, "normal_")
    p = nn.Parameter(torch.empty(8, 8))
    with ft.patch():
        # A leaf that requires grad: torch's own error, nothing written.
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            p.normal_()
        with torch.no_grad():
            v = p._version
            p.normal_()
            assert p._version > v
        assert len(calls) == 1
        # A non-leaf that requires grad: torch records the in-place op.
        y = p * 2
        y.normal_()
        assert y.grad_fn is not None and len(calls) == 1


def assert_like_torch(make, call):
    """call(make()) unpatched then patched, from the same RNG state: the same result (values
    or exception type and message) and the same RNG state after."""
    out = []
    for patched in (False, True):
        torch.manual_seed(3)
        t = make()
        try:
            if patched:
                with ft.patch():
                    r = call(t)
            else:
                r = call(t)
        except Exception as e:      # noqa: BLE001 -- compared below
            r = e
        out.append((t, r, torch.get_rng_state()))
    (t0, r0, s0), (t1, r1, s1) = out
    if isinstance(r0, Exception):
        assert type(r1) is type(r0) and str(r1) == str(r0)
    else:
        assert not isinstance(r1, Exception), r1
        assert torch.equal(t0, t1) or (t0.is_floating_point() and np.array_equal(
            tensor_bits(t0), tensor_bits(t1)))      # NaN fills compared as bits
    assert torch.equal(s0, s1)


@pytest.mark.parametrize("call", [
    lambda t: t.normal_(0.0, -1.0),
    lambda t: t.normal_(float("nan"), 1.0),
    lambda t: t.uniform_(2.0, 1.0),
    lambda t: t.uniform_(0.0, float("inf")),
    lambda t: t.normal_(0.0, 1.0, 5),
    lambda t: t.normal_(0.0, 1.0, generator=5),
    lambda t: t.uniform_(0.0, 1.0, bogus=1),
], ids=["std<0", "nan-mean", "inverted", "inf", "extra-positional", "bad-generator", "kw"])
def test_method_errors_are_torchs(call):
    assert_like_torch(lambda: torch.zeros(10, 10), call)


@pytest.mark.parametrize("make", [
    lambda: torch.zeros(10, 10, dtype=torch.complex64),
    lambda: torch.zeros(10, 10, dtype=torch.int32),
    lambda: torch.zeros(10, 10).expand(3, 10, 10),
    lambda: torch.zeros(0, 4),
], ids=["complex", "int32", "expanded", "empty"])
@pytest.mark.parametrize("name", ["normal_", "uniform_"])
def test_method_other_tensors(make, name):
    assert_like_torch(make, lambda t: getattr(t, name)())


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
def test_fill_and_zero_are_torchs_bits(dtype, monkeypatch):
    calls = counting(monkeypatch, "constant_")
    zeros = counting(monkeypatch, "zeros_")
    n = ft.FILL_MIN_NUMEL
    rng = np.random.default_rng(0)
    # values that need rounding (doubles, through float32 for the 16-bit types), ties,
    # subnormals and overflow to inf included
    values = [float(v) for v in rng.standard_normal(20) * 10.0 ** rng.integers(-40, 40, 20)]
    values += [1.0 + 2.0 ** -9, 1.0 + 2.0 ** -8 + 2.0 ** -24, 1e-45, 3, -0.0, 65520.0]
    refused = 0
    for v in values:
        try:
            t0 = torch.empty(n, dtype=dtype).fill_(v)
        except RuntimeError as e:       # overflow: the same error through the patch
            refused += 1
            with ft.patch(), pytest.raises(RuntimeError, match=str(e)):
                torch.empty(n, dtype=dtype).fill_(v)
            continue
        with ft.patch():
            t1 = torch.empty(n, dtype=dtype)
            assert t1.fill_(v) is t1
        assert np.array_equal(tensor_bits(t1), tensor_bits(t0)), v
    assert len(calls) == len(values) and refused < len(values) // 2
    with ft.patch():
        t = torch.ones(n, dtype=dtype)
        assert t.zero_() is t and not t.any()
        assert len(zeros) == 1
        small = torch.ones(n - 1, dtype=dtype)
        small.zero_()
        small.fill_(2.0)
        assert len(zeros) == 1 and (small == 2).all()


@pytest.mark.parametrize("value", [True, torch.tensor(2.5), 1 + 2j],
                         ids=["bool", "tensor", "complex"])
def test_fill_other_values_are_torchs(value):
    assert_like_torch(lambda: torch.zeros(ft.FILL_MIN_NUMEL), lambda t: t.fill_(value))


def test_fallback_inside_torch_stays_torch():
    """torch's own function, called for a tensor fastinit leaves alone, makes its inner
    Tensor-method calls on tensors fastinit would fill: they stay torch's."""
    class Sub(torch.Tensor):
        pass
    assert_like_torch(lambda: torch.zeros(20, 20).as_subclass(Sub),
                      lambda t: init.trunc_normal_(t, 0.0, 1.0, -1.0, 1.0))


# ---- functions bound by name, anywhere --------------------------------------------------------

def fake_module(name, **attrs):
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    sys.modules[name] = mod
    return mod


def test_rebinds_names_bound_anywhere_and_restores():
    mod = fake_module("_fi_user_code", normal_=init.normal_, xavier=init.xavier_uniform_,
                      kaiming_normal_=init.kaiming_normal_)
    try:
        with ft.patch():
            assert mod.normal_.__fastinit__ and mod.normal_ is init.normal_
            assert mod.kaiming_normal_ is init.kaiming_normal_
            assert mod.xavier is ORIGINAL_INIT["xavier_uniform_"]   # another name: not ours
            torch.manual_seed(2)
            a = mod.normal_(torch.empty(100))
            torch.manual_seed(2)
            b = torch.empty(100).normal_()
            assert torch.equal(a, b)
            # bound while patched: restored on exit, though it was not there on entry
            late = fake_module("_fi_late_code", uniform_=init.uniform_)
        assert mod.normal_ is ORIGINAL_INIT["normal_"]
        assert mod.kaiming_normal_ is ORIGINAL_INIT["kaiming_normal_"]
        assert late.uniform_ is ORIGINAL_INIT["uniform_"]
    finally:
        sys.modules.pop("_fi_user_code", None)
        sys.modules.pop("_fi_late_code", None)


# ---- transformers ----------------------------------------------------------------------------

def _transformers():
    pytest.importorskip("transformers")
    import transformers.initialization as hf_init
    return hf_init


def test_transformers_init_functions_rebound():
    hf_init = _transformers()
    before = dict(hf_init.TORCH_INIT_FUNCTIONS)
    assert before["normal_"] is ORIGINAL_INIT["normal_"]
    with ft.patch():
        for name, fn in hf_init.TORCH_INIT_FUNCTIONS.items():
            assert fn is getattr(init, name) and fn.__fastinit__, name
        torch.manual_seed(4)
        a = hf_init.normal_(torch.empty(50, 40), mean=0.0, std=0.02)
        torch.manual_seed(4)
        b = torch.empty(50, 40).normal_(0.0, 0.02)
        assert torch.equal(a, b)
        # transformers' own guard, which swaps torch.nn.init for its functions
        with hf_init.guard_torch_init_functions():
            torch.manual_seed(4)
            c = init.normal_(torch.empty(50, 40), mean=0.0, std=0.02)
        assert torch.equal(a, c)
    assert hf_init.TORCH_INIT_FUNCTIONS == before


def test_transformers_respects_is_hf_initialized(monkeypatch):
    hf_init = _transformers()
    calls = counting(monkeypatch, "normal_")
    w = nn.Parameter(torch.zeros(30, 20))
    w._is_hf_initialized = True
    with ft.patch():
        hf_init.normal_(w, std=0.02)
        hf_init.trunc_normal_(w, std=0.02)
        hf_init.uniform_(w)
    assert not w.detach().any() and not calls


def tiny_llama_config():
    from transformers import LlamaConfig
    return LlamaConfig(vocab_size=1000, hidden_size=64, intermediate_size=172,
                       num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                       initializer_range=0.02, tie_word_embeddings=False)


@pytest.mark.slow
def test_transformers_llama_from_config(monkeypatch):
    _transformers()
    from transformers import LlamaForCausalLM
    config = tiny_llama_config()
    calls = counting(monkeypatch, "normal_")
    states = []
    for _ in range(2):
        torch.manual_seed(0)
        with ft.patch():
            model = LlamaForCausalLM(config)
        states.append({k: v.clone() for k, v in model.state_dict().items()})
    torch.manual_seed(0)
    theirs = LlamaForCausalLM(config).state_dict()
    linear = [n for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Embedding))]
    # every Linear and Embedding weight went through fastinit.init.normal_, once per build
    filled = {t.data_ptr() for t in calls}
    ptrs = {n: model.get_submodule(n).weight.data_ptr() for n in linear}
    assert set(ptrs.values()) <= filled and len(calls) >= 2 * len(linear)
    a, b = states
    for k in a:
        assert torch.equal(a[k], b[k]), k                      # seeded: reproducible
        if k.endswith("norm.weight"):
            assert torch.equal(a[k], torch.ones_like(a[k])), k
    weights = np.concatenate([a[n + ".weight"].numpy().ravel() for n in linear])
    check_normal(weights, 0.0, 0.02)
    assert not torch.equal(a["lm_head.weight"], theirs["lm_head.weight"])


# ---- timm (where installed) -----------------------------------------------------------------

def _timm():
    pytest.importorskip("timm")
    import timm.layers
    import timm.layers.weight_init as wi
    return timm.layers, wi


def test_timm_functions_rebound_everywhere():
    layers, wi = _timm()
    import timm.models.vision_transformer as vit
    originals = {n: getattr(wi, n) for n in ("trunc_normal_", "trunc_normal_tf_")}
    with ft.patch():
        for n, fn in originals.items():
            assert getattr(wi, n).__fastinit__ and getattr(wi, n).__wrapped__ is fn
            assert getattr(layers, n) is getattr(wi, n)
        assert vit.trunc_normal_ is wi.trunc_normal_
    for n, fn in originals.items():
        assert getattr(wi, n) is fn and getattr(layers, n) is fn
    assert vit.trunc_normal_ is originals["trunc_normal_"]


def test_timm_meanings():
    layers, wi = _timm()
    n = 200_000
    with ft.patch():
        torch.manual_seed(1)
        t = layers.trunc_normal_(torch.empty(n, dtype=torch.float64), 0.5, 2.0, -1.0, 3.0)
        check_truncnorm(t.numpy(), 0.5, 2.0, -1.0, 3.0)
        # the tf variant bounds N(0, 1) to [a, b], then scales and shifts
        t = layers.trunc_normal_tf_(torch.empty(n, dtype=torch.float64), 0.5, 2.0, -1.0, 3.0)
        check_truncnorm(t.numpy(), 0.5, 2.0, 0.5 - 2.0, 0.5 + 6.0)
        w = torch.empty(400, 500, dtype=torch.float64)
        for dist, check in (("normal", lambda x, s: check_normal(x, 0.0, s)),
                            ("uniform", lambda x, s: check_uniform(x, -s * 3 ** .5,
                                                                   s * 3 ** .5)),
                            ("truncated_normal", lambda x, s: check_truncnorm(
                                x, 0.0, s / 0.87962566103423978, -2 * s / 0.8796256610342398,
                                2 * s / 0.87962566103423978))):
            layers.variance_scaling_(w, scale=2.0, mode="fan_avg", distribution=dist)
            check(w.numpy().ravel(), math.sqrt(2.0 / 450))
    # bit for bit: trunc_normal_ is the patched torch.nn.init's, after the same seed
    with ft.patch():
        torch.manual_seed(8)
        a = layers.trunc_normal_(torch.empty(300), 0.0, 0.02, -0.04, 0.04)
        torch.manual_seed(8)
        b = init.trunc_normal_(torch.empty(300), 0.0, 0.02, -0.04, 0.04)
    assert torch.equal(a, b)


def test_timm_routes_reach_fastinit(monkeypatch):
    layers, _ = _timm()
    tn = counting(monkeypatch, "trunc_normal_")
    nm = counting(monkeypatch, "normal_")
    with ft.patch():
        layers.lecun_normal_(torch.empty(20, 30))
        layers.variance_scaling_(torch.empty(20, 30), distribution="normal")
        layers.trunc_normal_(torch.empty(20, 30), std=0.02)
    assert len(tn) == 2 and len(nm) == 1


@pytest.mark.parametrize("name", ["trunc_normal_", "trunc_normal_tf_"])
def test_timm_warnings_and_fallbacks_are_timms(name):
    layers, _ = _timm()
    fn = getattr(layers, name)
    for args in ((0.0, 1.0, 3.0, 5.0), (10.0, 1.0, -2.0, 2.0), (0.0, 1.0, -2.0, 2.0)):
        with warnings.catch_warnings(record=True) as theirs:
            warnings.simplefilter("always")
            fn(torch.empty(10), *args)
        with ft.patch(), warnings.catch_warnings(record=True) as ours:
            warnings.simplefilter("always")
            getattr(layers, name)(torch.empty(10), *args)
        assert [(w.category, str(w.message)) for w in ours] == \
            [(w.category, str(w.message)) for w in theirs], args
    # an int tensor: timm's own function, and its error
    assert_like_torch(lambda: torch.zeros(10, dtype=torch.int32), lambda t: fn(t))


@pytest.mark.slow
def test_timm_vit_from_config(monkeypatch):
    _timm()
    import timm
    calls = counting(monkeypatch, "trunc_normal_")
    states = []
    for _ in range(2):
        torch.manual_seed(0)
        with ft.patch():
            m = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32,
                                  num_classes=10)
        states.append(m.state_dict())
    assert len(calls) >= 2 * sum(isinstance(x, nn.Linear) for x in m.modules())
    for k in states[0]:
        assert torch.equal(states[0][k], states[1][k]), k
    w = np.concatenate([v.numpy().ravel() for k, v in states[0].items()
                        if k.endswith(("qkv.weight", "fc1.weight", "fc2.weight"))])
    check_truncnorm(w, 0.0, 0.02, -2.0, 2.0)
