"""fastinit's in-place functions and initializer objects on torch CPU tensors.

The reference for every tensor write is the same call on a NumPy array of the same shape and
dtype with the same seed: the tensor must hold those values bit for bit (bfloat16 compared
through 16-bit integer views), in its own storage (same object, same data pointer, the base
of a view written through the view), for contiguous and non-contiguous layouts alike. That
pins both the zero-copy path and the stream contract (value i of a fill is a function of the
logical index, whatever the strides). torch.nn.init patching is in test_torch_patch.py.
"""
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastinit  # noqa: E402
import fastinit.torch as ft  # noqa: E402
from fastinit import defaults  # noqa: E402
from _util import BF16, F16, F32, F64, UINT, as_bits, assert_bits_equal, gen_at  # noqa: E402

nn = torch.nn

NUMPY_DTYPE = {torch.float16: F16, torch.bfloat16: BF16, torch.float32: F32,
               torch.float64: F64}
TORCH_DTYPES = [pytest.param(dt, id=str(dt).replace("torch.", "")) for dt in NUMPY_DTYPE]
_INT_VIEW = {2: torch.int16, 4: torch.int32, 8: torch.int64}
S5 = math.sqrt(5.0)


def tensor_bits(t):
    """The raw bits of a tensor in logical C order, as unsigned ints of its width (through an
    integer view of the tensor, so bfloat16 never goes through a NumPy float type); a copy,
    so later writes to the tensor do not show through."""
    d = t.detach()
    n = d.element_size()
    return d.view(_INT_VIEW[n]).numpy().view(UINT[n]).copy(order="C")


def rng_draw_state(seed, draws):
    """The state of a torch.Generator seeded with ``seed`` after ``draws`` int64 draws."""
    g = torch.Generator().manual_seed(seed)
    for _ in range(draws):
        torch.empty((), dtype=torch.int64).random_(generator=g)
    return g.get_state()


# ---- every in-place function and some initializer objects ---------------------------------

# name -> (logical shape, fill(t, generator) -> t, draws values?)
# Shapes are in torch's (out, in, *kernel) layout for the torch names and the defaults, and in
# JAX's (*kernel, in, out) layout for the initializer objects.
FILLS = {
    "uniform_": ((12, 10), lambda t, g: fastinit.uniform_(t, -1.5, 2.0, generator=g), True),
    "normal_": ((12, 10), lambda t, g: fastinit.normal_(t, 0.5, 2.0, generator=g), True),
    "trunc_normal_": ((12, 10), lambda t, g: fastinit.trunc_normal_(
        t, 0.0, 1.0, -1.0, 1.5, generator=g), True),
    "constant_": ((12, 10), lambda t, g: fastinit.constant_(t, 0.3), False),
    "ones_": ((12, 10), lambda t, g: fastinit.ones_(t), False),
    "zeros_": ((12, 10), lambda t, g: fastinit.zeros_(t), False),
    "eye_": ((12, 10), lambda t, g: fastinit.eye_(t), False),
    "dirac_": ((6, 4, 3), lambda t, g: fastinit.dirac_(t, groups=2), False),
    "xavier_uniform_": ((12, 10), lambda t, g: fastinit.xavier_uniform_(
        t, gain=1.5, generator=g), True),
    "xavier_normal_": ((6, 4, 3, 3), lambda t, g: fastinit.xavier_normal_(t, generator=g), True),
    "kaiming_uniform_": ((12, 10), lambda t, g: fastinit.kaiming_uniform_(
        t, a=S5, generator=g), True),
    "kaiming_normal_": ((6, 4, 3, 3), lambda t, g: fastinit.kaiming_normal_(
        t, mode="fan_out", nonlinearity="relu", generator=g), True),
    "orthogonal_": ((12, 10), lambda t, g: fastinit.orthogonal_(t, gain=2.0, generator=g), True),
    "orthogonal_-3d": ((4, 5, 6), lambda t, g: fastinit.orthogonal_(t, generator=g), True),
    "sparse_": ((12, 10), lambda t, g: fastinit.sparse_(t, 0.3, std=0.5, generator=g), True),
    "defaults.torch_linear_": ((12, 10), lambda t, g: defaults.torch_linear_(
        t, generator=g)[0], True),
    "defaults.torch_embedding_": ((12, 10), lambda t, g: defaults.torch_embedding_(
        t, padding_idx=3, generator=g), True),
    "defaults.martens_sparse_": ((12, 10), lambda t, g: defaults.martens_sparse_(
        t, k=4, std=0.5, generator=g), True),
    "defaults.depth_scaled_normal_": ((12, 10), lambda t, g: defaults.depth_scaled_normal_(
        t, std=0.02, num_layers=6, generator=g), True),
    "he_normal(seed=0)(out=)": ((3, 3, 4, 6), lambda t, g: fastinit.he_normal(seed=0)(out=t),
                                False),
    "glorot_uniform()(out=, generator=)": ((3, 3, 4, 6), lambda t, g: fastinit.glorot_uniform()(
        out=t, generator=g), True),
    "orthogonal(seed=5)(out=)": ((12, 10), lambda t, g: fastinit.orthogonal(seed=5)(out=t),
                                 False),
    "truncated_normal()(out=, generator=)": ((12, 10), lambda t, g: fastinit.truncated_normal(
        0.5)(out=t, generator=g), True),
    "constant(0.25)(out=)": ((12, 10), lambda t, g: fastinit.constant(0.25)(out=t), False),
    "zeros(out=)": ((12, 10), lambda t, g: fastinit.zeros(out=t), False),
    "MartensSparse(seed=1)(out=)": ((3, 8, 10), lambda t, g: defaults.MartensSparse(
        k=3, seed=1)(out=t), False),
}
RANDOM = [name for name, (_, _, draws) in FILLS.items() if draws]
# zero-element fills that warn as torch's kaiming functions do (torch_linear_ runs kaiming)
WARNS = {"kaiming_uniform_", "kaiming_normal_", "defaults.torch_linear_"}

LAYOUTS = ["contiguous", "transposed", "sliced", "parameter", "parameter-sliced"]
SENTINEL = -7.0


def make(layout, shape, dtype):
    """(the tensor to fill, the tensor owning its storage, a bool mask of the owner's
    elements that the tensor covers). Every element starts as SENTINEL."""
    nd = len(shape)
    if layout in ("contiguous", "parameter"):
        base = torch.full(shape, SENTINEL, dtype=dtype)
        t = base
    elif layout == "transposed":
        base = torch.full(shape[::-1], SENTINEL, dtype=dtype)
        t = base.permute(*reversed(range(nd)))
    else:       # sliced with a step, and a storage offset
        base = torch.full((shape[0] + 1, 2 * shape[1]) + tuple(shape[2:]), SENTINEL,
                          dtype=dtype)
        t = base[1:, ::2]
    mask = torch.zeros(base.shape, dtype=torch.bool)
    if layout in ("sliced", "parameter-sliced"):
        mask[1:, ::2] = True
    else:
        mask[...] = True
    if layout.startswith("parameter"):
        t = nn.Parameter(t)
        if layout == "parameter":
            base = t
    assert tuple(t.shape) == tuple(shape)
    assert t.is_contiguous() == (layout in ("contiguous", "parameter")) or nd < 2
    return t, base, mask.numpy()


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", TORCH_DTYPES)
@pytest.mark.parametrize("name", list(FILLS))
def test_tensor_fill_equals_array_fill(name, dtype, layout):
    shape, fill, _ = FILLS[name]
    t, base, covered = make(layout, shape, dtype)
    ptr, storage = t.data_ptr(), t.untyped_storage().data_ptr()
    version = t._version
    before = tensor_bits(base)
    assert fill(t, 1234) is t
    # in place: the same storage, and written through the view into its owner
    assert t.data_ptr() == ptr and t.untyped_storage().data_ptr() == storage
    assert base.untyped_storage().data_ptr() == storage
    assert t._version > version
    ref = fill(np.empty(shape, NUMPY_DTYPE[dtype]), 1234)
    assert isinstance(ref, np.ndarray) and ref.dtype == NUMPY_DTYPE[dtype]
    assert_bits_equal(tensor_bits(t), as_bits(ref), f"{name} {layout}")
    after = tensor_bits(base)
    assert np.array_equal(after[~covered], before[~covered]), "wrote outside the view"
    assert not np.array_equal(after[covered], before[covered])
    if isinstance(t, nn.Parameter):
        assert t.requires_grad and t.grad is None and t.is_leaf and t.grad_fn is None


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
@pytest.mark.parametrize("layout", ["contiguous", "sliced"])
def test_torch_linear_weight_and_bias(dtype, layout):
    w, w_base, _ = make(layout, (12, 10), dtype)
    b_base = torch.full((24,), SENTINEL, dtype=dtype)
    b = nn.Parameter(b_base[::2] if layout == "sliced" else b_base[:12])
    vw, vb = w._version, b._version
    got = defaults.torch_linear_(w, b, generator=9)
    assert got[0] is w and got[1] is b
    assert w._version > vw and b._version > vb
    rw, rb = defaults.torch_linear_(np.empty((12, 10), NUMPY_DTYPE[dtype]),
                                    np.empty(12, NUMPY_DTYPE[dtype]), generator=9)
    assert_bits_equal(tensor_bits(w), as_bits(rw), "weight")
    assert_bits_equal(tensor_bits(b), as_bits(rb), "bias")
    # bias ~ U(±1/sqrt(fan_in)), fan_in = 10
    assert b.detach().abs().max().item() <= 1 / math.sqrt(10)
    if layout == "sliced":
        assert torch.all(b_base[1::2] == SENTINEL)


def test_array_view_is_zero_copy():
    for dt in NUMPY_DTYPE:
        t = torch.zeros(6, 8, dtype=dt)[:, 1::3]
        a = ft.as_array(t)
        assert a.dtype == NUMPY_DTYPE[dt] and a.shape == (6, 3)
        assert a.__array_interface__["data"][0] == t.data_ptr()
        assert a.strides == tuple(s * t.element_size() for s in t.stride())
        a[2, 1] = 3.5
        assert t[2, 1].item() == 3.5
    assert ft.numpy_dtype(torch.bfloat16) == BF16 and ft.numpy_dtype(torch.int32) is None
    p = nn.Parameter(torch.zeros(3))
    ft.as_array(p)[0] = 1.0
    assert p[0].item() == 1.0 and p.requires_grad


def test_as_array_refuses():
    with pytest.raises(ValueError, match="meta"):
        ft.as_array(torch.empty(3, device="meta"))
    with pytest.raises(TypeError, match="int32"):
        ft.as_array(torch.zeros(3, dtype=torch.int32))
    with pytest.raises(TypeError, match="strided"):
        ft.as_array(torch.zeros(3, 3).to_sparse())


def test_version_bump_is_seen_by_autograd():
    p = nn.Parameter(torch.ones(4, 4))
    loss = (p * p).sum()            # saves p for the backward pass
    fastinit.normal_(p, generator=0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    assert p.grad is None


def test_write_makes_no_autograd_graph():
    p = nn.Parameter(torch.ones(5, 4))
    assert fastinit.kaiming_uniform_(p, generator=1) is p
    assert p.is_leaf and p.grad_fn is None and p.requires_grad
    (p.sum() * 2).backward()
    assert torch.equal(p.grad, torch.full((5, 4), 2.0))


# ---- meta, zero-element, unsupported dtypes, devices ----------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
@pytest.mark.parametrize("name", list(FILLS))
def test_meta_tensor_returned_unchanged(name, dtype):
    shape, fill, _ = FILLS[name]
    t = torch.empty(shape, device="meta", dtype=dtype)
    g = torch.Generator().manual_seed(3)
    state = g.get_state()
    assert fill(t, g) is t
    assert t.is_meta and tuple(t.shape) == shape and t.dtype == dtype
    assert torch.equal(g.get_state(), state), "a key was drawn for a meta tensor"


def test_meta_torch_linear_with_bias():
    """torch_linear_ on meta weight and bias returns both unchanged, as every in-place
    function does for meta tensors (nn.Linear(..., device='meta') has both)."""
    w = torch.empty(12, 10, device="meta")
    b = torch.empty(12, device="meta")
    got = defaults.torch_linear_(w, b, generator=0)
    assert got[0] is w and got[1] is b


def _zero_shape(shape):
    return (shape[0], 0) + tuple(shape[2:])


@pytest.mark.parametrize("name", list(FILLS))
def test_zero_element_tensor_is_a_no_op(name):
    shape, fill, _ = FILLS[name]
    t = torch.empty(_zero_shape(shape))
    g = torch.Generator().manual_seed(3)
    state = g.get_state()
    if name in WARNS:
        with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
            assert fill(t, g) is t
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert fill(t, g) is t
    assert tuple(t.shape) == _zero_shape(shape)
    assert torch.equal(g.get_state(), state), "a key was drawn for an empty tensor"


@pytest.mark.parametrize("bad", [torch.int32, torch.complex64], ids=["int32", "complex64"])
@pytest.mark.parametrize("name", list(FILLS))
def test_unsupported_dtype_is_type_error(name, bad):
    shape, fill, _ = FILLS[name]
    t = torch.full(shape, 3, dtype=bad)
    version = t._version
    g = torch.Generator().manual_seed(3)
    state = g.get_state()
    with pytest.raises(TypeError):
        fill(t, g)
    assert torch.all(t == 3) and t._version == version
    assert torch.equal(g.get_state(), state)


def test_argument_error_leaves_tensor_and_version():
    t = torch.full((4, 6), SENTINEL, dtype=torch.bfloat16)
    before, version = tensor_bits(t), t._version
    with pytest.raises(ValueError, match="from=1 > to=0"):
        fastinit.uniform_(t, 1, 0, generator=0)
    with pytest.raises(ValueError):
        fastinit.xavier_uniform_(t[0])
    assert np.array_equal(tensor_bits(t), before) and t._version == version


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_tensor_is_value_error():
    t = torch.zeros(4, 4, device="cuda")
    with pytest.raises(ValueError, match="cuda"):
        fastinit.uniform_(t, generator=0)
    assert torch.all(t == 0)


# ---- generator= as a torch.Generator -------------------------------------------------------

@pytest.mark.parametrize("name", RANDOM)
def test_torch_generator(name):
    shape, fill, _ = FILLS[name]

    def run(g):
        return tensor_bits(fill(torch.empty(shape), g))

    a = run(torch.Generator().manual_seed(11))
    assert np.array_equal(a, run(torch.Generator().manual_seed(11)))
    assert not np.array_equal(a, run(torch.Generator().manual_seed(12)))
    g = torch.Generator().manual_seed(11)
    assert np.array_equal(run(g), a)
    # one int64 key per call: the generator moved on by exactly one draw
    assert torch.equal(g.get_state(), rng_draw_state(11, 1))
    assert not np.array_equal(run(g), a), "the torch generator did not advance"
    # a NumPy target takes a torch.Generator too
    ref = fill(np.empty(shape, np.float32), torch.Generator().manual_seed(11))
    assert np.array_equal(as_bits(ref), a)


def test_generator_from_draws_one_63_bit_key():
    k = int(torch.empty((), dtype=torch.int64).random_(generator=torch.Generator().manual_seed(7)))
    assert 0 <= k < 2 ** 63
    g = ft.generator_from(torch.Generator().manual_seed(7))
    assert isinstance(g, fastinit.Generator)
    assert g.state["key"] == (k & 0xFFFFFFFF, k >> 32) and g.state["counter"] == 0
    a = fastinit.normal_(torch.empty(40, 30), generator=torch.Generator().manual_seed(7))
    b = fastinit.normal_(np.empty((40, 30), np.float32), generator=gen_at(g.state["key"], 0))
    assert np.array_equal(tensor_bits(a), as_bits(b))


def test_initializer_out_with_seed_repeats():
    init = fastinit.he_normal(seed=0)
    a = init(out=torch.empty(3, 3, 16, 32, dtype=torch.bfloat16))
    b = init(out=torch.empty(3, 3, 16, 32, dtype=torch.bfloat16))
    assert a is not b
    assert torch.equal(a.view(torch.int16), b.view(torch.int16))
    # dtype= may be spelled as a torch dtype; shape= must match out's
    c = init((3, 3, 16, 32), dtype=torch.bfloat16, out=torch.empty(3, 3, 16, 32,
                                                                  dtype=torch.bfloat16))
    assert torch.equal(a.view(torch.int16), c.view(torch.int16))
    t = torch.zeros(4, 4)
    with pytest.raises(ValueError, match="does not match"):
        init((4, 5), out=t)
    assert torch.all(t == 0)


def test_initializer_out_dtype_mismatch_message():
    """A torch dtype that differs from out's is a TypeError saying so (the message is built
    with np.dtype(dt), which cannot interpret a torch dtype)."""
    t = torch.zeros(4, 4)
    with pytest.raises(TypeError, match="does not match"):
        fastinit.he_normal(seed=0)(out=t, dtype=torch.float64)
    assert torch.all(t == 0)


# ---- torch stays optional -----------------------------------------------------------------

def _python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


def test_works_without_torch():
    r = _python(
        "import sys; sys.modules['torch'] = None\n"
        "import fastinit; import numpy as np\n"
        "w = fastinit.kaiming_uniform_(np.empty((4, 4), np.float32))\n"
        "assert 0 < np.abs(w).max() <= (6 / 4) ** 0.5\n"      # kaiming a=0: sqrt(6 / fan_in)
        "fastinit.he_normal(seed=0)(out=np.empty((3, 3), np.float32))\n"
        "assert 'torch' not in sys.modules or sys.modules['torch'] is None\n"
        "try:\n"
        "    fastinit.torch\n"
        "except ImportError:\n"
        "    pass\n"
        "else:\n"
        "    raise AssertionError('fastinit.torch imported without torch')\n"
        "print('ok')\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_import_does_not_import_torch():
    r = _python(
        "import fastinit, sys; assert 'torch' not in sys.modules\n"
        "import numpy as np\n"
        "fastinit.uniform_(np.empty(8, np.float32)); fastinit.normal_(np.empty(8), generator=1)\n"
        "assert 'torch' not in sys.modules\n"
        "import fastinit.torch; assert 'torch' in sys.modules\n"
        "print('ok')\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
