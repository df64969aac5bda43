"""fastinit.torch.patch() / install() / uninstall(): torch.nn.init through fastinit.

- Patching replaces exactly FUNCTIONS, nests, and restores torch.nn.init object for object
  (identity of everything in dir(torch.nn.init)) on every way out.
- Under patch, torch modules build with the right laws (bounds and stds written out by hand
  from the layer sizes), the values come from fastinit (predicted bit for bit from the torch
  generator's key, and different from torch's own), seeds work as in torch.
- Tensors fastinit does not fill go to torch's function; errors are torch's (type, message,
  tensor and RNG state after), compared against the same call with the patch removed.
- Ports of what torch's own TestNNInit checks, run through the patched torch.nn.init.

Fixed seeds throughout; statistical thresholds as in test_init_torch_names.py.
"""
import inspect
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402

import fastinit  # noqa: E402
import fastinit.torch as ft  # noqa: E402
from _util import (BF16, as_bits, counts_on_grid, grouped_chisquare,  # noqa: E402
                   rounded_normal_model, rounded_uniform_model)
from _laws import P_MIN, check_normal, check_truncnorm, check_uniform  # noqa: E402
from test_init_torch_names import ORTHO_TOL, assert_semi_orthogonal, dirac_expected  # noqa: E402
from test_torch import (NUMPY_DTYPE, SENTINEL, TORCH_DTYPES, rng_draw_state,  # noqa: E402
                        tensor_bits)
from test_truncnorm import rounded_truncnorm_model  # noqa: E402

nn = torch.nn
init = torch.nn.init
S5 = math.sqrt(5.0)

NAMES = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_",
         "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
         "orthogonal_", "sparse_")


def snapshot():
    """Every attribute of torch.nn.init, by name."""
    return {name: getattr(init, name) for name in dir(init)}


ORIGINAL = snapshot()       # torch.nn.init as torch ships it (taken before any test runs)
assert not any(hasattr(ORIGINAL[n], "__fastinit__") for n in NAMES)


def assert_is(snap):
    now = snapshot()
    assert now.keys() == snap.keys()
    changed = [n for n in snap if now[n] is not snap[n]]
    assert not changed, f"torch.nn.init.{changed[0]} is not what it was (of {changed})"


def patched_names():
    return [n for n in NAMES if hasattr(getattr(init, n), "__fastinit__")]


@pytest.fixture(autouse=True)
def clean_torch_state():
    """Each test starts with torch.nn.init unpatched and ends with it restored (a failing
    test cannot leak a patch), and with torch's default RNG state as it found it."""
    assert_is(ORIGINAL)
    assert not ft.is_installed()
    rng = torch.get_rng_state()
    yield
    while ft.uninstall():
        pass
    for name, fn in ORIGINAL.items():
        setattr(init, name, fn)
    torch.set_rng_state(rng)


def seeded(seed):
    return torch.Generator().manual_seed(seed)


# ---- what is patched, and restoring it --------------------------------------------------------

def test_functions_are_the_fourteen_fills():
    assert tuple(ft.FUNCTIONS) == NAMES
    assert set(NAMES) <= set(dir(init))


def test_patch_replaces_exactly_the_functions():
    with ft.patch() as p:
        assert isinstance(p, ft.patch)
        assert ft.is_installed()
        now = snapshot()
        for name in ORIGINAL:
            if name in NAMES:
                fn = now[name]
                assert fn is not ORIGINAL[name] and getattr(fn, "__fastinit__", False) is True
                assert fn.__name__ == name and fn.__wrapped__ is ORIGINAL[name]
                assert fn.__doc__ == ORIGINAL[name].__doc__
            else:       # calculate_gain, the fan helpers, the deprecated names: torch's
                assert now[name] is ORIGINAL[name], name
    assert not ft.is_installed()
    assert_is(ORIGINAL)


def test_restored_after_exception_in_with_block():
    with pytest.raises(KeyError, match="boom"):
        with ft.patch():
            assert ft.is_installed()
            nn.Linear(4, 3)
            raise KeyError("boom")
    assert not ft.is_installed()
    assert_is(ORIGINAL)


def test_decorator():
    calls = []

    @ft.patch()
    def build(n):
        calls.append((ft.is_installed(), patched_names()))
        return nn.Linear(n, 2)

    for n in (3, 5):
        assert build(n).weight.shape == (2, n)
        assert not ft.is_installed()
        assert_is(ORIGINAL)
    assert calls == [(True, list(NAMES))] * 2


def test_decorator_restores_after_raise():
    @ft.patch()
    def fails():
        assert ft.is_installed()
        raise RuntimeError("inside")

    for _ in range(2):
        with pytest.raises(RuntimeError, match="inside"):
            fails()
        assert not ft.is_installed()
        assert_is(ORIGINAL)


def test_decorator_reentrant():
    """The decorator reuses one patch object: a recursive call nests it, and each level
    restores what the level above installed."""
    seen = []

    @ft.patch()
    def rec(depth):
        mine = snapshot()
        if depth:
            rec(depth - 1)
            assert_is(mine)          # the inner level put back this level's functions
        seen.append(mine["normal_"])
        return depth

    rec(2)
    assert len(set(map(id, seen))) == 3
    assert not ft.is_installed()
    assert_is(ORIGINAL)


def test_patch_inside_patch():
    with ft.patch():
        outer = snapshot()
        with ft.patch():
            inner = snapshot()
            for n in NAMES:
                assert inner[n] is not outer[n] and inner[n].__wrapped__ is outer[n]
            # a tensor fastinit does not fill goes down both layers to torch
            t = init.constant_(torch.zeros(3, dtype=torch.int32), 3)
            assert t.tolist() == [3, 3, 3]
        assert ft.is_installed()
        assert_is(outer)
    assert not ft.is_installed()
    assert_is(ORIGINAL)


def test_install_inside_patch():
    """patch() restores on exit what torch.nn.init held on entry; an install() made inside it
    is undone with it, so afterwards nothing is installed and uninstall() has nothing to
    restore (it must not put the dead patch's functions back)."""
    with ft.patch():
        ft.install()
        assert ft.is_installed()
    assert_is(ORIGINAL)
    assert ft.is_installed() == bool(patched_names())
    ft.uninstall()
    assert_is(ORIGINAL)
    assert ft.is_installed() == bool(patched_names())


def test_patch_inside_install_and_uninstall_inside_patch():
    ft.install()
    installed = snapshot()
    with ft.patch():
        assert_is({**installed, **{n: getattr(init, n) for n in NAMES}})
        assert patched_names() == list(NAMES)
    assert_is(installed)
    assert ft.is_installed()
    with ft.patch():
        assert ft.uninstall()        # undoes the latest: this patch
        assert_is(installed)
    assert_is(installed)
    assert ft.uninstall() is True
    assert not ft.is_installed()
    assert_is(ORIGINAL)


def test_install_uninstall_count():
    assert ft.uninstall() is False
    assert_is(ORIGINAL)
    levels = []
    for _ in range(3):
        levels.append(snapshot())
        saved = ft.install()
        assert set(saved) == set(NAMES)
        assert all(saved[n] is levels[-1][n] for n in NAMES)
        assert ft.is_installed() and patched_names() == list(NAMES)
    for before in reversed(levels):
        assert ft.is_installed()
        assert ft.uninstall() is True
        assert_is(before)
    assert not ft.is_installed()
    assert ft.uninstall() is False
    assert_is(ORIGINAL)


def test_calculate_gain_is_not_patched():
    with pytest.raises(ValueError) as ref:
        init.calculate_gain("leaky_relu", True)
    with ft.patch():
        assert init.calculate_gain is ORIGINAL["calculate_gain"]
        with pytest.raises(ValueError) as got:
            init.calculate_gain("leaky_relu", True)
    assert type(got.value) is type(ref.value) and str(got.value) == str(ref.value)


# ---- modules built under patch ----------------------------------------------------------------

def params(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def built(make, seed, patched=True):
    torch.manual_seed(seed)
    if patched:
        with ft.patch():
            return make()
    return make()


def assert_fastinit_did_it(make, seed=100):
    """Reproducible under torch.manual_seed, seed-dependent, and not torch's own values."""
    a = params(built(make, seed))
    b = params(built(make, seed))
    c = params(built(make, seed + 1))
    theirs = params(built(make, seed, patched=False))
    random = [k for k in a if torch.unique(a[k]).numel() > 1]
    assert random
    for k in a:
        assert torch.equal(a[k], b[k]), k
    for k in random:
        assert not torch.equal(a[k], c[k]), f"{k} does not depend on the seed"
    return a, theirs, random


# kind -> (constructor, weight shape, fan_in = in_channels / groups * prod(kernel), by hand)
LAYERS = {
    "Linear": (lambda dt: nn.Linear(200, 300, dtype=dt), (300, 200), 200),
    "Conv1d": (lambda dt: nn.Conv1d(8, 16, 5, dtype=dt), (16, 8, 5), 40),
    "Conv2d": (lambda dt: nn.Conv2d(8, 32, (3, 5), dtype=dt), (32, 8, 3, 5), 120),
    "Conv2d-groups": (lambda dt: nn.Conv2d(8, 32, 3, groups=2, dtype=dt), (32, 4, 3, 3), 36),
    "Conv3d": (lambda dt: nn.Conv3d(4, 16, 3, dtype=dt), (16, 4, 3, 3, 3), 108),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_linear_and_conv(kind, dtype):
    make, shape, fan_in = LAYERS[kind]
    bound = 1.0 / math.sqrt(fan_in)      # kaiming_uniform_(a=sqrt(5)) = U(±1/sqrt(fan_in))
    a, theirs, random = assert_fastinit_did_it(lambda: make(dtype))
    assert set(random) == {"weight", "bias"}
    w, b = a["weight"], a["bias"]
    assert tuple(w.shape) == shape and w.dtype == dtype and b.shape == (shape[0],)
    for k in ("weight", "bias"):
        assert not torch.equal(a[k], theirs[k]), f"{k}: torch's own values"
    # bit for bit: the weight's key, then the bias's, from torch's default generator
    tg = seeded(100)
    np_dt = NUMPY_DTYPE[dtype]
    rw = fastinit.kaiming_uniform_(np.empty(shape, np_dt), a=S5, generator=tg)
    rb = fastinit.uniform_(np.empty(shape[0], np_dt), -bound, bound, generator=tg)
    assert np.array_equal(tensor_bits(w), as_bits(rw))
    assert np.array_equal(tensor_bits(b), as_bits(rb))
    if dtype == torch.float32:
        check_uniform(w.numpy(), -bound, bound)
    wf = w.float()
    assert wf.abs().max() <= bound and wf.abs().max() > 0.95 * bound
    assert b.float().abs().max() <= bound


def test_linear_bias_law():
    lin = built(lambda: nn.Linear(50, 4000), 7)
    check_uniform(lin.bias.detach().numpy(), -1 / math.sqrt(50), 1 / math.sqrt(50))
    check_uniform(lin.weight.detach().numpy(), -1 / math.sqrt(50), 1 / math.sqrt(50))


def test_embedding():
    make = lambda: nn.Embedding(1000, 64, padding_idx=2)    # noqa: E731
    a, theirs, _ = assert_fastinit_did_it(make)
    w = a["weight"]
    assert torch.all(w[2] == 0)
    assert not torch.equal(w, theirs["weight"])
    ref = fastinit.normal_(np.empty((1000, 64), np.float32), generator=seeded(100))
    ref[2] = 0
    assert np.array_equal(tensor_bits(w), as_bits(ref))
    check_normal(np.delete(w.numpy(), 2, axis=0), 0.0, 1.0)


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
def test_layer_norm(dtype):
    state = torch.get_rng_state()
    with ft.patch():
        ln = nn.LayerNorm(64, dtype=dtype)
    assert torch.equal(torch.get_rng_state(), state)
    assert ln.weight.dtype == dtype
    assert torch.all(ln.weight == 1) and torch.all(ln.bias == 0)
    assert ln.weight.requires_grad and ln.weight.grad is None


def test_multihead_attention():
    make = lambda: nn.MultiheadAttention(64, 4)    # noqa: E731
    a, theirs, _ = assert_fastinit_did_it(make)
    # in_proj_weight (192, 64): xavier_uniform_, bound sqrt(6 / (64 + 192))
    check_uniform(a["in_proj_weight"].numpy(), -math.sqrt(6 / 256), math.sqrt(6 / 256))
    # out_proj is a Linear(64, 64): U(±1/8); its bias and in_proj_bias are zeroed
    check_uniform(a["out_proj.weight"].numpy(), -1 / 8, 1 / 8)
    assert torch.all(a["in_proj_bias"] == 0) and torch.all(a["out_proj.bias"] == 0)
    assert not torch.equal(a["out_proj.weight"], theirs["out_proj.weight"])
    m = built(make, 100)
    x = torch.randn(5, 2, 64)
    y, _ = m(x, x, x)
    assert torch.isfinite(y).all()


def test_transformer_encoder_layer():
    def make():
        return nn.TransformerEncoderLayer(64, 4, dim_feedforward=128, dropout=0.0,
                                          batch_first=True)

    a, theirs, _ = assert_fastinit_did_it(make)
    check_uniform(a["linear1.weight"].numpy(), -1 / 8, 1 / 8)              # fan_in 64
    check_uniform(a["linear2.weight"].numpy(), -1 / math.sqrt(128), 1 / math.sqrt(128))
    assert a["linear1.bias"].abs().max() <= 1 / 8
    assert a["linear2.bias"].abs().max() <= 1 / math.sqrt(128)
    check_uniform(a["self_attn.in_proj_weight"].numpy(), -math.sqrt(6 / 256),
                  math.sqrt(6 / 256))
    for k in ("norm1.weight", "norm2.weight"):
        assert torch.all(a[k] == 1)
    for k in ("norm1.bias", "norm2.bias", "self_attn.in_proj_bias", "self_attn.out_proj.bias"):
        assert torch.all(a[k] == 0)
    for k in ("linear1.weight", "linear2.weight", "linear1.bias"):
        assert not torch.equal(a[k], theirs[k])
    y = built(make, 100)(torch.randn(2, 7, 64))
    assert y.shape == (2, 7, 64) and torch.isfinite(y).all()


class TinyPreTrained(nn.Module):
    """A Hugging Face-style model: submodules, then ``self.apply(self._init_weights)``, whose
    ``nn.init.*`` calls look the functions up at call time."""

    def __init__(self, vocab=500, d=64, initializer_range=0.02):
        super().__init__()
        self.initializer_range = initializer_range
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.empty(1, 64, d))
        self.dense = nn.Linear(d, 4 * d)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(4 * d, d)
        self.apply(self._init_weights)

    def _init_weights(self, module):
        std = self.initializer_range
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=std)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, TinyPreTrained):
            nn.init.trunc_normal_(module.pos, std=std, a=-2 * std, b=2 * std)


def test_hugging_face_style_init_weights():
    a, theirs, random = assert_fastinit_did_it(TinyPreTrained)
    assert set(random) == {"embed.weight", "pos", "dense.weight", "head.weight"}
    for k in random:
        assert not torch.equal(a[k], theirs[k]), k
    check_normal(a["dense.weight"].numpy(), 0.0, 0.02)
    check_normal(a["head.weight"].numpy(), 0.0, 0.02)
    check_normal(a["embed.weight"].numpy(), 0.0, 0.02)
    check_truncnorm(a["pos"].numpy(), 0.0, 0.02, -0.04, 0.04)
    for k in ("dense.bias", "head.bias", "norm.bias"):
        assert torch.all(a[k] == 0)
    assert torch.all(a["norm.weight"] == 1)


# ---- generators and seeds under patch -----------------------------------------------------

# name -> (shape, call(t, **kw) through torch.nn.init, the same call through fastinit)
RANDOM_CALLS = {
    "uniform_": ((30, 20), lambda f, t, **kw: f(t, -1.0, 2.0, **kw)),
    "normal_": ((30, 20), lambda f, t, **kw: f(t, 0.5, 2.0, **kw)),
    "trunc_normal_": ((30, 20), lambda f, t, **kw: f(t, 0.0, 1.0, -1.0, 1.5, **kw)),
    "xavier_uniform_": ((30, 20), lambda f, t, **kw: f(t, gain=1.5, **kw)),
    "xavier_normal_": ((6, 4, 3, 3), lambda f, t, **kw: f(t, **kw)),
    "kaiming_uniform_": ((30, 20), lambda f, t, **kw: f(t, a=S5, **kw)),
    "kaiming_normal_": ((6, 4, 3, 3), lambda f, t, **kw: f(t, mode="fan_out",
                                                           nonlinearity="relu", **kw)),
    "orthogonal_": ((30, 20), lambda f, t, **kw: f(t, gain=2.0, **kw)),
    "sparse_": ((30, 20), lambda f, t, **kw: f(t, 0.3, **kw)),
}


def patched_call(name, t, **kw):
    shape, call = RANDOM_CALLS[name]
    return call(getattr(init, name), t, **kw)


@pytest.mark.parametrize("name", list(RANDOM_CALLS))
def test_generator_argument(name):
    shape, call = RANDOM_CALLS[name]
    with ft.patch():
        a = patched_call(name, torch.empty(shape), generator=seeded(5))
        b = patched_call(name, torch.empty(shape), generator=seeded(5))
        c = patched_call(name, torch.empty(shape), generator=seeded(6))
        g = seeded(5)
        patched_call(name, torch.empty(shape), generator=g)
        d = patched_call(name, torch.empty(shape), generator=g)
    assert torch.equal(a, b)
    assert not torch.equal(a, c) and not torch.equal(a, d)
    ours = call(getattr(fastinit, name), np.empty(shape, np.float32), generator=seeded(5))
    assert np.array_equal(tensor_bits(a), as_bits(ours))
    theirs = patched_call(name, torch.empty(shape), generator=seeded(5))   # torch's own
    assert not torch.equal(a, theirs)


@pytest.mark.parametrize("name", list(RANDOM_CALLS))
def test_default_generator_and_manual_seed(name):
    shape, call = RANDOM_CALLS[name]
    with ft.patch():
        torch.manual_seed(21)
        a = patched_call(name, torch.empty(shape))
        # one int64 key drawn from torch's default generator per call
        assert torch.equal(torch.get_rng_state(), rng_draw_state(21, 1))
        b = patched_call(name, torch.empty(shape))
        torch.manual_seed(21)
        c = patched_call(name, torch.empty(shape))
        torch.manual_seed(22)
        d = patched_call(name, torch.empty(shape))
    assert not torch.equal(a, b) and torch.equal(a, c) and not torch.equal(a, d)
    ours = call(getattr(fastinit, name), np.empty(shape, np.float32), generator=seeded(21))
    assert np.array_equal(tensor_bits(a), as_bits(ours))


@pytest.mark.parametrize("name", ["uniform_", "normal_", "xavier_uniform_", "orthogonal_",
                                  "sparse_", "kaiming_normal_", "trunc_normal_"])
def test_positional_generator(name):
    """generator= passed by position (None among them) is handled as by keyword."""
    fn = ORIGINAL[name]
    shape, call = RANDOM_CALLS[name]
    sig = inspect.signature(fn)
    pos = list(sig.parameters).index("generator")
    # the arguments before generator, by name: the call's keyword defaults of torch
    defaults = [p.default for p in list(sig.parameters.values())[1:pos]]
    if name == "sparse_":
        defaults[0] = 0.3
    with ft.patch():
        f = getattr(init, name)
        a = f(torch.empty(shape), *defaults, seeded(8))
        b = f(torch.empty(shape), *defaults, generator=seeded(8))
        torch.manual_seed(8)
        c = f(torch.empty(shape), *defaults, None)
        assert torch.equal(torch.get_rng_state(), rng_draw_state(8, 1))
    assert torch.equal(a, b) and torch.equal(a, c)


@pytest.mark.parametrize("name, shape, args", [
    ("constant_", (5, 4), (0.5,)), ("ones_", (5, 4), ()), ("zeros_", (5, 4), ()),
    ("eye_", (5, 4), ()), ("dirac_", (6, 4, 3), (2,))])
def test_deterministic_fills_use_no_randomness(name, shape, args):
    theirs = ORIGINAL[name](torch.full(shape, SENTINEL), *args)
    state = torch.get_rng_state()
    with ft.patch():
        t = torch.full(shape, SENTINEL)
        assert getattr(init, name)(t, *args) is t
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(t, theirs)


@pytest.mark.parametrize("name", list(RANDOM_CALLS) + ["constant_", "eye_"])
def test_zero_element_under_patch(name):
    shape = (0, 4, 3, 3) if name in ("xavier_normal_", "kaiming_normal_") else (0, 4)
    call = RANDOM_CALLS[name][1] if name in RANDOM_CALLS else \
        (lambda f, t: f(t, 2.0)) if name == "constant_" else (lambda f, t: f(t))
    state = torch.get_rng_state()
    with ft.patch():
        t = torch.empty(shape)
        if name.startswith("kaiming"):
            with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
                assert call(getattr(init, name), t) is t
        else:
            assert call(getattr(init, name), t) is t
    assert torch.equal(torch.get_rng_state(), state)


# ---- tensors fastinit does not fill go to torch ----------------------------------------------

class MyTensor(torch.Tensor):
    pass


class MyParameter(nn.Parameter):
    pass


def run_both(make, call, seed=31):
    """call(make()) with torch's functions, then under patch, from the same RNG state:
    [(tensor, result or exception, RNG state after)] for each."""
    out = []
    for patched in (False, True):
        torch.manual_seed(seed)
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
    return out


def assert_same_as_torch(make, call):
    (t0, r0, s0), (t1, r1, s1) = run_both(make, call)
    if isinstance(r0, Exception):
        assert isinstance(r1, Exception), f"torch raised {r0!r}, the patched call did not"
        assert type(r1) is type(r0) and str(r1) == str(r0)
    else:
        assert not isinstance(r1, Exception), f"the patched call raised {r1!r}"
        assert r1 is t1
        if t1.layout != torch.strided:
            t0, t1 = t0.to_dense(), t1.to_dense()
        if not t1.is_meta:
            assert t1.dtype == t0.dtype and torch.equal(t1, t0)
    assert torch.equal(s1, s0), "the default generator moved differently from torch's"
    return t1


OTHER_TENSORS = {
    "int32": lambda shape: torch.zeros(shape, dtype=torch.int32),
    "int64": lambda shape: torch.zeros(shape, dtype=torch.int64),
    "complex64": lambda shape: torch.zeros(shape, dtype=torch.complex64),
    "float8": lambda shape: torch.zeros(shape, dtype=torch.float8_e4m3fn),
    "meta": lambda shape: torch.empty(shape, device="meta"),
    "subclass": lambda shape: torch.zeros(shape).as_subclass(MyTensor),
    "parameter-subclass": lambda shape: MyParameter(torch.zeros(shape)),
}

OTHER_CALLS = {
    "constant_": ((5, 4), lambda t: init.constant_(t, 3)),
    "ones_": ((5, 4), lambda t: init.ones_(t)),
    "zeros_": ((5, 4), lambda t: init.zeros_(t)),
    "eye_": ((5, 4), lambda t: init.eye_(t)),
    "dirac_": ((6, 4, 3), lambda t: init.dirac_(t, 2)),
    "uniform_": ((5, 4), lambda t: init.uniform_(t, -1.0, 1.0)),
    "normal_": ((5, 4), lambda t: init.normal_(t, 0.0, 2.0)),
    "trunc_normal_": ((5, 4), lambda t: init.trunc_normal_(t)),
    "xavier_uniform_": ((5, 4), lambda t: init.xavier_uniform_(t)),
    "xavier_normal_": ((5, 4), lambda t: init.xavier_normal_(t)),
    "kaiming_uniform_": ((5, 4), lambda t: init.kaiming_uniform_(t)),
    "kaiming_normal_": ((5, 4), lambda t: init.kaiming_normal_(t)),
    "orthogonal_": ((5, 4), lambda t: init.orthogonal_(t)),
    "sparse_": ((5, 4), lambda t: init.sparse_(t, 0.5)),
}


@pytest.mark.parametrize("kind", list(OTHER_TENSORS))
@pytest.mark.parametrize("name", list(OTHER_CALLS))
def test_other_tensors_go_to_torch(name, kind):
    shape, call = OTHER_CALLS[name]
    t = assert_same_as_torch(lambda: OTHER_TENSORS[kind](shape), call)
    assert type(t) is type(OTHER_TENSORS[kind](shape))


def test_int_constant_under_patch():
    with ft.patch():
        t = torch.zeros(3, 4, dtype=torch.int32)
        assert init.constant_(t, 3) is t
    assert t.dtype == torch.int32 and torch.all(t == 3)


def test_negative_view_goes_to_torch():
    """The imaginary part of a conjugated complex tensor is a plain float32 CPU tensor whose
    values are negated lazily (neg bit): NumPy cannot view it, torch can fill it."""
    def make():
        return torch.zeros(8, 5, dtype=torch.complex64).conj().imag
    assert make().is_neg() and type(make()) is torch.Tensor and make().dtype == torch.float32
    assert_same_as_torch(make, lambda t: init.constant_(t, 2.5))
    assert_same_as_torch(make, lambda t: init.uniform_(t))


def test_sparse_layout_goes_to_torch():
    assert_same_as_torch(lambda: torch.zeros(4, 4).to_sparse(), lambda t: init.zeros_(t))
    assert_same_as_torch(lambda: torch.zeros(4, 4).to_sparse(), lambda t: init.normal_(t))


# ---- errors under patch are torch's -----------------------------------------------------------

def f32(*shape):
    return lambda: torch.full(shape, SENTINEL)


def _inference_tensor():
    with torch.inference_mode():
        return torch.full((4, 6), SENTINEL)


ERRORS = [
    # (id, make the tensor, call) -- torch raises for each
    ("xavier_uniform_-1d", f32(8), lambda t: init.xavier_uniform_(t)),
    ("xavier_normal_-1d", f32(8), lambda t: init.xavier_normal_(t)),
    ("xavier_uniform_-0d", f32(), lambda t: init.xavier_uniform_(t)),
    ("kaiming_uniform_-1d", f32(8), lambda t: init.kaiming_uniform_(t)),
    ("kaiming_normal_-1d", f32(8), lambda t: init.kaiming_normal_(t)),
    ("orthogonal_-1d", f32(8), lambda t: init.orthogonal_(t)),
    ("kaiming_uniform_-mode", f32(4, 6), lambda t: init.kaiming_uniform_(t, mode="fan_avg")),
    ("kaiming_normal_-mode-upper", f32(4, 6), lambda t: init.kaiming_normal_(t, mode="FAN_AVG")),
    ("kaiming_normal_-mode-None", f32(4, 6), lambda t: init.kaiming_normal_(t, mode=None)),
    ("kaiming_uniform_-nonlinearity", f32(4, 6),
     lambda t: init.kaiming_uniform_(t, nonlinearity="gelu")),
    ("kaiming_normal_-bool-slope", f32(4, 6), lambda t: init.kaiming_normal_(t, a=True)),
    ("sparse_-3d", f32(4, 6, 2), lambda t: init.sparse_(t, 0.5)),
    ("sparse_-1d", f32(4), lambda t: init.sparse_(t, 0.5)),
    ("dirac_-2d", f32(4, 6), lambda t: init.dirac_(t)),
    ("dirac_-6d", f32(2, 2, 1, 1, 1, 1), lambda t: init.dirac_(t)),
    ("dirac_-groups", f32(6, 4, 3), lambda t: init.dirac_(t, groups=4)),
    ("dirac_-groups-0", f32(6, 4, 3), lambda t: init.dirac_(t, groups=0)),
    ("eye_-3d", f32(3, 3, 3), lambda t: init.eye_(t)),
    ("eye_-1d", f32(3), lambda t: init.eye_(t)),
    ("uniform_-a-gt-b", f32(4, 6), lambda t: init.uniform_(t, 1, 0)),
    ("uniform_-inf", f32(4, 6), lambda t: init.uniform_(t, 0.0, math.inf)),
    ("uniform_-str", f32(4, 6), lambda t: init.uniform_(t, "0", 1.0)),
    ("normal_-negative-std", f32(4, 6), lambda t: init.normal_(t, 0, -1)),
    ("normal_-nan-std", f32(4, 6), lambda t: init.normal_(t, 0, math.nan)),
    ("xavier_uniform_-negative-gain", f32(4, 6), lambda t: init.xavier_uniform_(t, gain=-1)),
    ("xavier_normal_-negative-gain", f32(4, 6), lambda t: init.xavier_normal_(t, gain=-1)),
    ("trunc_normal_-std-0", f32(4, 6), lambda t: init.trunc_normal_(t, std=0.0)),
    ("trunc_normal_-a-gt-b", f32(4, 6), lambda t: init.trunc_normal_(t, a=2.0, b=-2.0)),
    ("constant_-str", f32(4, 6), lambda t: init.constant_(t, "x")),
    ("normal_-generator-str", f32(4, 6), lambda t: init.normal_(t, generator="x")),
    ("sparse_-negative-std", f32(4, 6), lambda t: init.sparse_(t, 0.5, std=-1.0)),
    # a value the dtype cannot hold: torch refuses to fill it, rather than writing inf
    ("constant_-overflow-float32", f32(4, 6), lambda t: init.constant_(t, 1e39)),
    ("constant_-overflow-bfloat16", lambda: torch.full((4, 6), SENTINEL, dtype=torch.bfloat16),
     lambda t: init.constant_(t, -1e39)),
    ("constant_-overflow-float16", lambda: torch.full((4, 6), SENTINEL, dtype=torch.float16),
     lambda t: init.constant_(t, 70000.0)),
    # several elements share one memory location: torch refuses to write it
    ("uniform_-expanded", lambda: torch.full((1, 6), SENTINEL).expand(4, 6),
     lambda t: init.uniform_(t)),
    ("kaiming_uniform_-expanded", lambda: torch.full((1, 6), SENTINEL).expand(4, 6),
     lambda t: init.kaiming_uniform_(t)),
    # an inference tensor outside inference mode is not writable in place
    ("normal_-inference-tensor", _inference_tensor, lambda t: init.normal_(t)),
]


@pytest.mark.parametrize("make, call", [pytest.param(*e[1:], id=e[0]) for e in ERRORS])
def test_errors_are_torchs(make, call):
    (t0, r0, s0), (t1, r1, s1) = run_both(make, call)
    assert isinstance(r0, Exception), "torch accepts this call: not an error case"
    assert isinstance(r1, Exception), \
        f"torch raises {type(r0).__name__}({r0}); under patch the call returned"
    assert type(r1) is type(r0)
    assert str(r1) == str(r0)
    # unchanged, or changed exactly as torch changes it (an inference tensor is written
    # before torch notices and raises)
    assert np.array_equal(tensor_bits(t1), tensor_bits(t0)), "the tensor differs from torch's"
    assert torch.equal(s1, s0), "the default generator moved differently from torch's"


ACCEPTED = [
    # (id, make the tensor, call) -- fastinit alone rejects these, torch accepts them
    ("sparse_-above-1", f32(10, 6), lambda t: init.sparse_(t, 1.5)),
    ("sparse_-negative", f32(10, 6), lambda t: init.sparse_(t, -0.5)),
    ("constant_-bool", f32(4, 6), lambda t: init.constant_(t, True)),
    ("constant_-0d-tensor", f32(4, 6), lambda t: init.constant_(t, torch.tensor(2.5))),
    ("normal_-inf-mean", f32(4, 6), lambda t: init.normal_(t, math.inf, 1.0)),
    ("orthogonal_-inf-gain", f32(4, 6), lambda t: init.orthogonal_(t, math.inf)),
    ("uniform_-0d-tensor-bounds", f32(4, 6),
     lambda t: init.uniform_(t, torch.tensor(-1.0), torch.tensor(1.0))),
]


@pytest.mark.parametrize("make, call", [pytest.param(*e[1:], id=e[0]) for e in ACCEPTED])
def test_torch_accepts_what_fastinit_rejects(make, call):
    (t0, r0, s0), (t1, r1, s1) = run_both(make, call)
    assert not isinstance(r0, Exception), f"torch raises {r0!r}"
    assert r1 is t1, f"under patch: {r1!r}"
    assert np.array_equal(tensor_bits(t1), tensor_bits(t0))     # bit for bit (NaN, inf too)
    assert torch.equal(s1, s0)


def test_sparse_above_one_is_all_zeros():
    with ft.patch():
        t = init.sparse_(torch.full((10, 6), SENTINEL), 1.5)
    assert torch.all(t == 0)


# ---- ports of torch's TestNNInit, through the patched functions -------------------------------

# shape -> (fan_in, fan_out) in torch's layout, by hand:
# (320, 200): fan_in 200, fan_out 320
# (64, 32, 3, 3): receptive field 9, fan_in 32 * 9 = 288, fan_out 64 * 9 = 576
SHAPES = {"2d": ((320, 200), (200, 320)), "4d": ((64, 32, 3, 3), (288, 576))}
S2, S3 = math.sqrt(2.0), math.sqrt(3.0)


def _kaiming(nl, a, gain):
    cases = []
    for mode in ("fan_in", "fan_out"):
        fan = (lambda fi, fo: fi) if mode == "fan_in" else (lambda fi, fo: fo)
        cases.append(pytest.param(
            lambda t, a=a, mode=mode, nl=nl: init.kaiming_uniform_(t, a=a, mode=mode,
                                                                   nonlinearity=nl),
            lambda fi, fo, fan=fan, gain=gain: (
                "uniform", -S3 * gain / math.sqrt(fan(fi, fo)), S3 * gain / math.sqrt(fan(fi, fo))),
            id=f"kaiming_uniform_-{nl}-{mode}"))
        cases.append(pytest.param(
            lambda t, a=a, mode=mode, nl=nl: init.kaiming_normal_(t, a=a, mode=mode,
                                                                  nonlinearity=nl),
            lambda fi, fo, fan=fan, gain=gain: ("normal", 0.0, gain / math.sqrt(fan(fi, fo))),
            id=f"kaiming_normal_-{nl}-{mode}"))
    return cases


LAWS = [
    pytest.param(lambda t: init.uniform_(t, -2.5, 0.5), lambda fi, fo: ("uniform", -2.5, 0.5),
                 id="uniform_"),
    pytest.param(lambda t: init.normal_(t, 1.5, 0.5), lambda fi, fo: ("normal", 1.5, 0.5),
                 id="normal_"),
    pytest.param(lambda t: init.trunc_normal_(t, 0.5, 2.0, -1.0, 3.0),
                 lambda fi, fo: ("trunc", 0.5, 2.0, -1.0, 3.0), id="trunc_normal_"),
    pytest.param(lambda t: init.trunc_normal_(t, std=0.02, a=-0.04, b=0.04),
                 lambda fi, fo: ("trunc", 0.0, 0.02, -0.04, 0.04), id="trunc_normal_-2std"),
    pytest.param(lambda t: init.xavier_uniform_(t, gain=1.5),
                 lambda fi, fo: ("uniform", -1.5 * math.sqrt(6 / (fi + fo)),
                                 1.5 * math.sqrt(6 / (fi + fo))), id="xavier_uniform_"),
    pytest.param(lambda t: init.xavier_normal_(t, gain=0.5),
                 lambda fi, fo: ("normal", 0.0, 0.5 * math.sqrt(2 / (fi + fo))),
                 id="xavier_normal_"),
    *_kaiming("leaky_relu", 0, S2),                         # gain sqrt(2 / (1 + 0))
    *_kaiming("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
    *_kaiming("relu", 0, S2),
    *_kaiming("tanh", 0, 5 / 3),
]


def check_16bit(x, law, dtype):
    """A 16-bit sample against the law rounded to the dtype: every value on the dtype's grid
    inside the support, a chi-square on exact cell masses, and the mean and std within
    six standard errors (plus the dtype's relative rounding) of the law's."""
    from scipy import stats
    kind, *p = law
    x = np.asarray(x).astype(np.float64).ravel()
    n = x.size
    if kind == "uniform":
        vals, probs = rounded_uniform_model(dtype, *p)
        lo, hi = p
        mean, std = (lo + hi) / 2, (hi - lo) / math.sqrt(12)
        assert lo <= x.min() and x.max() <= hi
    elif kind == "normal":
        vals, probs = rounded_normal_model(dtype, *p)
        mean, std = p
    else:
        vals, probs = rounded_truncnorm_model(dtype, *p)
        m, s, a, b = p
        law_ = stats.truncnorm((a - m) / s, (b - m) / s, loc=m, scale=s)
        mean, std = law_.mean(), law_.std()
        assert a <= x.min() and x.max() <= b
    eps = 2.0 ** -8                     # bfloat16's relative rounding (float16's is finer)
    assert abs(x.mean() - mean) < 6 * std / math.sqrt(n) + eps * std, (x.mean(), mean)
    assert abs(x.std() / std - 1) < 6 * 0.75 / math.sqrt(n) + eps, (x.std(), std)
    counts = counts_on_grid(x, vals)
    stat, pvalue, nb = grouped_chisquare(counts, probs)
    assert pvalue > P_MIN, f"chi2={stat:.1f} on {nb} bins, p={pvalue:.3g}"


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
@pytest.mark.parametrize("layout", list(SHAPES))
@pytest.mark.parametrize("call, law", LAWS)
def test_law(call, law, layout, dtype):
    shape, fans = SHAPES[layout]
    torch.manual_seed(2024)
    with ft.patch():
        t = torch.empty(shape, dtype=dtype)
        assert call(t) is t
    assert tuple(t.shape) == shape and t.dtype == dtype
    expected = law(*fans)
    if dtype == torch.float32:
        {"uniform": check_uniform, "normal": check_normal, "trunc": check_truncnorm}[
            expected[0]](t.numpy(), *expected[1:])
    else:
        check_16bit(t.float().numpy(), expected, BF16)


DIRAC = [
    # (weight shape (out, in / groups, *k), groups): out == in and out > in, groups 1 and 2
    ((4, 4, 3), 1), ((6, 4, 5), 1), ((4, 2, 3), 2), ((8, 3, 3), 2),
    ((4, 4, 3, 3), 1), ((6, 4, 3, 5), 1), ((4, 2, 3, 3), 2), ((8, 3, 3, 3), 2),
    ((4, 4, 3, 3, 3), 1), ((6, 3, 1, 3, 5), 1), ((4, 2, 3, 3, 3), 2), ((8, 2, 3, 3, 3), 2),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("shape, groups", DIRAC, ids=str)
def test_dirac_identity(shape, groups, dtype):
    with ft.patch():
        w = init.dirac_(torch.full(shape, SENTINEL, dtype=dtype), groups)
    assert np.array_equal(w.double().numpy(), dirac_expected(shape, groups))
    nd = len(shape) - 2
    out_c, ipg = shape[0], shape[1]
    opg = out_c // groups
    spatial = (9, 8, 7)[:nd]
    x = torch.randn((2, groups * ipg) + spatial, generator=seeded(0), dtype=dtype)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
    y = conv(x, w, padding=[k // 2 for k in shape[2:]], groups=groups)
    assert y.shape == (2, out_c) + spatial
    for g in range(groups):
        for d in range(opg):
            got = y[:, g * opg + d]
            if d < min(opg, ipg):
                assert torch.equal(got, x[:, g * ipg + d])      # exact: one tap of 1
            else:
                assert torch.all(got == 0)


ORTHO = [((64, 16), (64, 16)), ((16, 64), (16, 64)), ((32, 32), (32, 32)),
         ((48, 3, 2, 2), (48, 12)), ((5, 7, 3, 3), (5, 63))]


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
@pytest.mark.parametrize("gain", [1.0, 2.5])
@pytest.mark.parametrize("shape, view", ORTHO, ids=lambda v: "x".join(map(str, v)))
def test_orthogonal(shape, view, gain, dtype):
    torch.manual_seed(3)
    with ft.patch():
        t = init.orthogonal_(torch.empty(shape, dtype=dtype), gain=gain)
    # wide: q q^T = gain^2 I; tall: q^T q = gain^2 I
    assert_semi_orthogonal(t.double().numpy().reshape(view), gain, ORTHO_TOL[NUMPY_DTYPE[dtype]])


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
@pytest.mark.parametrize("rows, cols, sparsity, zeros", [
    (100, 300, 0.3, 30), (37, 50, 0.25, 10), (20, 40, 0.0, 0), (20, 40, 1.0, 20),
    (9, 30, 0.1, 1)])           # zeros = ceil(sparsity * rows), by hand
def test_sparse(rows, cols, sparsity, zeros, dtype):
    torch.manual_seed(4)
    with ft.patch():
        t = init.sparse_(torch.empty(rows, cols, dtype=dtype), sparsity, std=0.05)
    z = (t == 0)
    assert torch.all(z.sum(dim=0) == zeros), z.sum(dim=0)
    if 0 < zeros < rows:
        # positions drawn per column, not one pattern for all
        patterns = len({tuple(col) for col in z.T.tolist()})
        assert patterns > min(cols, math.comb(rows, zeros)) // 2, patterns
    nz = t[~z].float()
    if nz.numel() > 1000:
        assert abs(nz.std().item() / 0.05 - 1) < 6 / math.sqrt(2 * nz.numel()) + 2 ** -8


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
def test_trunc_normal_bounds_and_distinct_values(dtype):
    torch.manual_seed(5)
    n = 50000
    with ft.patch():
        t = init.trunc_normal_(torch.empty(n, dtype=dtype), 0.3, 1.0, -0.5, 1.2)
    x = t.double()
    assert x.min() >= -0.5 and x.max() <= 1.2
    assert x.min() < -0.49 and x.max() > 1.19
    distinct = torch.unique(t).numel()
    if dtype in (torch.float32, torch.float64):
        assert distinct > 0.99 * n
    else:
        # the expected number of distinct values of the rounded law, sum(1 - (1 - p)^n)
        vals, probs = rounded_truncnorm_model(NUMPY_DTYPE[dtype], 0.3, 1.0, -0.5, 1.2)
        expected = float(np.sum(-np.expm1(n * np.log1p(-probs))))
        assert abs(distinct - expected) < 0.05 * expected, (distinct, expected)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
def test_trunc_normal_no_pile_up_on_bounds(dtype):
    torch.manual_seed(6)
    with ft.patch():
        t = init.trunc_normal_(torch.empty(200000, dtype=dtype), std=0.1, a=-2.0, b=2.0)
    x = t.double()
    assert x.abs().max() <= 2.0
    assert not torch.any(x.abs() == 2.0)
    assert x.abs().max() < 0.7             # 7 std: nothing that far out in 2e5 draws
    assert abs(x.std().item() / 0.1 - 1) < 0.02


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
def test_trunc_normal_bound_values_carry_their_cell_only(dtype):
    """Where the density at the bounds is large (N(0, 1) on [-0.5, 0.5]), the bound values
    occur as often as the rounded law says (the half cell inside [a, b]), no more."""
    from scipy import stats
    n = 200000
    torch.manual_seed(7)
    with ft.patch():
        t = init.trunc_normal_(torch.empty(n, dtype=dtype), 0.0, 1.0, -0.5, 0.5)
    x = t.double().numpy()
    vals, probs = rounded_truncnorm_model(NUMPY_DTYPE[dtype], 0.0, 1.0, -0.5, 0.5)
    assert vals[0] == -0.5 and vals[-1] == 0.5
    for v, p in ((vals[0], probs[0]), (vals[-1], probs[-1])):
        lo, hi = stats.binom.interval(1 - 1e-6, n, p)
        c = int(np.count_nonzero(x == v))
        assert lo <= c <= hi, f"value {v}: {c} of {n}, expected {n * p:.1f}"


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4)], ids=str)
def test_eye(shape, dtype):
    with ft.patch():
        t = init.eye_(torch.full(shape, SENTINEL, dtype=dtype))
    assert torch.equal(t, torch.eye(*shape, dtype=dtype))


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
@pytest.mark.parametrize("value", [0.1, -3.3, 1 / 3, 2.5, 0.02, 0, -0.0, 7])
def test_constant_matches_torch(value, dtype):
    theirs = ORIGINAL["constant_"](torch.empty(6, 5, dtype=dtype), value)
    with ft.patch():
        t = torch.full((6, 5), SENTINEL, dtype=dtype)[:, ::1]
        assert init.constant_(t, value) is t
        assert torch.all(init.ones_(torch.zeros(4, 3, dtype=dtype)) == 1)
        assert torch.all(init.zeros_(torch.ones(4, 3, dtype=dtype)) == 0)
    assert np.array_equal(tensor_bits(t), tensor_bits(theirs))
