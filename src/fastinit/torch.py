"""PyTorch drop-in: fill torch CPU tensors in place, and patch ``torch.nn.init``.

Importing this module imports torch (``pip install fastinit[torch]``); ``import fastinit``
alone never does.

    >>> import fastinit.torch
    >>> with fastinit.torch.patch():          # or @fastinit.torch.patch(), or install()
    ...     model = build_model()             # nn.Linear, nn.Embedding, _init_weights, ...

Under ``patch()`` every public function of ``torch.nn.init`` that fills values runs through
fastinit when its tensor is a plain CPU tensor or ``nn.Parameter`` of float16, bfloat16,
float32 or float64, or a DTensor of those placed by Shard and Replicate (each rank fills its
block of the whole: ``fastinit._dtensor``); anything else (CUDA, meta, other dtypes, other
tensor subclasses, Partial placements) goes to the function that was there before. Each
call that draws values takes one 63-bit key from the torch Generator passed as
``generator=``, or else from torch's default CPU generator, so
``torch.manual_seed`` and ``generator=`` work as they do in torch. When fastinit rejects an
argument, torch's own function is called instead, so error types and messages (and the cases
torch accepts) are torch's.

Writes are zero-copy, through a NumPy view of the tensor's storage (bfloat16 through a 16-bit
integer view), and bump the tensor's autograd version counter as torch's in-place ops do.
"""
import contextlib
import functools
import inspect
import sys
import threading
import warnings

import torch

from fastinit import _adapt, _routes, init as _init
# Tensors as arrays live in _adapt, below the argument checks that also need them; they are
# this module's public names too.
from fastinit._adapt import as_array, generator_from, numpy_dtype, written  # noqa: F401

_NUMPY_DTYPES = _adapt.torch_dtypes()

# The torch.nn.init functions that patch() replaces (calculate_gain and the fan helpers
# compute nothing random and stay torch's).
FUNCTIONS = _routes.FUNCTIONS


# ---- patching torch.nn.init -----------------------------------------------------------------

_PLAIN = (torch.Tensor, torch.nn.Parameter)


def _ours(t):
    """Whether fastinit writes this tensor (else the previous function does)."""
    # is_cpu, not device.type == "cpu": the same test, and device.type builds a string (a
    # few us, on every patched call).
    return (type(t) in _PLAIN and t.is_cpu and t.layout == torch.strided
            and t.dtype in _NUMPY_DTYPES and not t.is_neg() and not t.is_conj())


_fallback = threading.local()


def _torchs(fn, *args, **kwargs):
    """Call torch's (or timm's) own function, whose inner Tensor-method calls stay torch's
    too: a fallback gives exactly torch's values and RNG state."""
    _fallback.depth = getattr(_fallback, "depth", 0) + 1
    try:
        return fn(*args, **kwargs)
    finally:
        _fallback.depth -= 1


def _dtensor_block(t):
    """(local tensor, full shape, index) of a DTensor fastinit fills (see _dtensor), else
    None. No DTensor exists before torch.distributed.tensor is imported: until then this
    imports nothing."""
    if "torch.distributed.tensor" not in sys.modules:
        return None
    from fastinit import _dtensor
    blk = _dtensor.block(t)
    return blk if blk is not None and _ours(blk[0]) else None


def _patched(name, previous):
    ours = getattr(_init, name)
    params = list(inspect.signature(previous).parameters)
    gen_at = params.index("generator") if "generator" in params else None

    @functools.wraps(previous)
    def patched(*args, **kwargs):
        tensor = args[0] if args else kwargs.get("tensor")
        blk = None
        if not _ours(tensor):
            blk = _dtensor_block(tensor)
            if blk is None:
                return _torchs(previous, *args, **kwargs)
        call_args, call_kwargs = args, kwargs
        if gen_at is not None:
            # None means torch's default CPU generator; the key is drawn only when values are.
            # Anything but a torch.Generator is torch's to refuse.
            gen = args[gen_at] if len(args) > gen_at else kwargs.get("generator")
            if gen is None:
                gen = torch.default_generator
                if len(args) > gen_at:
                    call_args = args[:gen_at] + (gen,) + args[gen_at + 1:]
                else:
                    call_kwargs = dict(kwargs, generator=gen)
            elif not isinstance(gen, torch.Generator):
                return _torchs(previous, *args, **kwargs)
        try:
            if blk is not None:
                from fastinit import _dtensor
                return _dtensor.fill(ours, tensor, blk, call_args, call_kwargs)
            return ours(*call_args, **call_kwargs)
        except (TypeError, ValueError):
            # Nothing was written and nothing drawn: let torch raise its own error (or
            # accept what it accepts, e.g. sparse_ with sparsity above 1).
            return _torchs(previous, *args, **kwargs)

    patched.__fastinit__ = True
    return patched


# ---- Tensor methods ---------------------------------------------------------------------------

# torch.Tensor's in-place fills that patch() also routes (older transformers and much research
# code call ``module.weight.data.normal_(...)`` rather than torch.nn.init).
METHODS = ("normal_", "uniform_", "fill_", "zero_")

# fill_ and zero_ write one value, which torch does about as fast as fastinit on small and
# on pre-faulted tensors; fastinit wins only on large fresh tensors, whose page faults it
# takes on both threads (benchmarks/torch_dropin.py part (a)). Below this many elements
# they stay torch's.
FILL_MIN_NUMEL = 1 << 20


# Python spellings of the methods' signatures, to bind a call's arguments by torch's rules
# (uniform_'s first parameter is ``from`` in torch, a keyword in Python: renamed on the way).
_normal_, _uniform_ = _routes.normal_signature, _routes.uniform_signature
def _fill_(self, value): ...
def _zero_(self): ...


_METHOD_SIGNATURES = {name: inspect.signature(fn) for name, fn in
                      (("normal_", _normal_), ("uniform_", _uniform_), ("fill_", _fill_),
                       ("zero_", _zero_))}


def _method_call(name, bound):
    """fastinit's call for a bound Tensor method, or None where it stays torch's."""
    a = bound.arguments
    t = a["self"]
    if name == "normal_":
        return lambda gen: _init.normal_(t, a.get("mean", 0.0), a.get("std", 1.0), gen)
    if name == "uniform_":
        return lambda gen: _init.uniform_(t, a.get("from_", 0.0), a.get("to", 1.0), gen)
    if t.numel() < FILL_MIN_NUMEL:
        return None
    if name == "fill_":
        v = a["value"]
        # A 0-d tensor value (and bool, complex) keeps torch's conversion rules: torch's.
        return (lambda gen: _init.constant_(t, v)) if type(v) in (int, float) else None
    return lambda gen: _init.zeros_(t)


def _patched_method(name, previous):
    sig = _METHOD_SIGNATURES[name]
    draws = name in ("normal_", "uniform_")

    @functools.wraps(previous)
    def method(self, *args, **kwargs):
        if not draws and (type(self) not in _PLAIN or self.numel() < FILL_MIN_NUMEL):
            # torch's in every case below (_method_call): decided first, as modules call
            # these on small buffers by the hundred (each BatchNorm: running stats zero_()
            # and fill_(1), num_batches_tracked zero_()), where binding costs 100x the fill.
            return previous(self, *args, **kwargs)
        # torch spells uniform_'s first parameter ``from``, a Python keyword.
        kw = {("from_" if k == "from" else k): v for k, v in kwargs.items()}
        if (getattr(_fallback, "depth", 0) or not _ours(self)
                or (self.requires_grad and torch.is_grad_enabled())):
            # A tensor that requires grad: torch raises (a leaf) or records the op.
            return previous(self, *args, **kwargs)
        try:
            bound = sig.bind(self, *args, **kw)
        except TypeError:
            return previous(self, *args, **kwargs)
        gen = bound.arguments.get("generator")
        if draws and gen is None:
            gen = torch.default_generator
        elif draws and not isinstance(gen, torch.Generator):
            return previous(self, *args, **kwargs)
        call = _method_call(name, bound)
        if call is None:
            return previous(self, *args, **kwargs)
        try:
            call(gen)
        except (TypeError, ValueError):
            # Nothing written, nothing drawn: torch's own method raises (or accepts).
            return previous(self, *args, **kwargs)
        return self

    method.__fastinit__ = True
    return method


# ---- timm's own functions ------------------------------------------------------------------

class _timm:
    """timm.layers' truncated normals, which timm builds from ``uniform_``, ``erfinv_``,
    ``mul_``, ``add_`` and ``clamp_`` (so no torch.nn.init patch reaches them). timm's
    ``variance_scaling_`` and ``lecun_normal_`` call its ``trunc_normal_tf_`` (rebound in its
    module) and the Tensor methods (routed), so they follow without being replaced."""

    NAMES = ("trunc_normal_", "trunc_normal_tf_")
    _WARNING = ("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                "The distribution of values may be incorrect.")

    @staticmethod
    def previous():
        mod = sys.modules.get("timm.layers.weight_init")
        if mod is None:
            return {}
        return {n: getattr(mod, n) for n in _timm.NAMES if callable(getattr(mod, n, None))}

    @staticmethod
    def replacement(name, previous):
        tf = name == "trunc_normal_tf_"

        @functools.wraps(previous)
        def trunc_normal(tensor, mean=0., std=1., a=-2., b=2.):
            if not _ours(tensor):
                return _torchs(previous, tensor, mean, std, a, b)
            # timm's meanings: absolute bounds; the tf variant bounds N(0, 1), then scales.
            m, lo, hi = (0.0, a, b) if tf else (mean, a, b)
            try:
                # fastinit's own warning (torch's, for the bounds it is given) is silenced:
                # timm's, by timm's rule, follows, once.
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="mean is more than 2 std")
                    if tf:
                        _init.trunc_normal_(tensor, mean, std, mean + a * std,
                                            mean + b * std, torch.default_generator)
                    else:
                        _init.trunc_normal_(tensor, mean, std, a, b, torch.default_generator)
            except (TypeError, ValueError):
                return _torchs(previous, tensor, mean, std, a, b)
            s = 1.0 if tf else std
            if m < lo - 2 * s or m > hi + 2 * s:
                warnings.warn(_timm._WARNING, stacklevel=2)
            return tensor

        trunc_normal.__fastinit__ = True
        return trunc_normal


# ---- where the functions are bound (fastinit._routes) -----------------------------------

_installed = []         # what each install() still in effect replaced, innermost last


def install():
    """Replace ``torch.nn.init``'s functions with fastinit's until ``uninstall()``, wherever
    they are bound (see ``patch``), and route ``torch.Tensor``'s ``normal_``, ``uniform_``,
    ``fill_`` and ``zero_``. Nests. Returns the functions ``torch.nn.init`` held, by name."""
    return {name: fn for where, name, fn, _ in _install() if where is torch.nn.init}


def _install(function=_patched, methods=METHODS, method=_patched_method, timm=True):
    """Install, returning [(where, name, previous, replacement)] (``where``: a module, a dict
    or torch.Tensor): fastinit's fills through every route (fastinit._routes), timm's
    functions included, tracked on the install stack."""
    others = [(name, fn, _timm.replacement(name, fn))
              for name, fn in (_timm.previous() if timm else {}).items()]
    saved = _routes.install(function, methods, method, others)
    _installed.append(saved)
    return saved


_restore = _routes.restore


def uninstall():
    """Undo the latest ``install()``, restoring exactly the functions it replaced. Returns
    False if nothing was installed."""
    if not _installed:
        return False
    _restore(_installed.pop())
    return True


def is_installed():
    return bool(_installed)


class patch(contextlib.ContextDecorator):
    """``with patch(): ...`` or ``@patch()``: fastinit initializes inside, and on exit (an
    exception included) everything holds exactly what it held on entry.

    Inside, fastinit runs through every route that model code takes to torch's fills:

    - ``torch.nn.init``'s functions, and the same functions wherever a loaded module bound
      them by name (``from torch.nn.init import trunc_normal_``, in torch.nn's modules and
      anyone else's);
    - transformers' ``TORCH_INIT_FUNCTIONS``, which ``transformers.initialization``'s own
      functions (and so every model's ``_init_weights``) call; its ``_is_hf_initialized``
      guard keeps its meaning, since it is checked before that call;
    - timm's ``trunc_normal_`` and ``trunc_normal_tf_`` with timm's meanings, wherever bound
      (its ``variance_scaling_`` and ``lecun_normal_`` follow through them);
    - ``Tensor.normal_`` and ``Tensor.uniform_`` (a Parameter's ``.data`` included), and
      ``Tensor.fill_`` and ``Tensor.zero_`` from FILL_MIN_NUMEL elements.

    Each call that draws values takes its key from the torch generator by the same rule, so
    ``t.normal_(0, 0.02)`` and ``nn.init.normal_(t, 0, 0.02)`` give the same bits after the
    same seed. What is bound where is looked up on entry: a library imported inside the block
    keeps its own functions (torch.nn.init's and the Tensor methods still reach fastinit)."""

    def __init__(self):
        self._saved = []

    def __enter__(self):
        self._saved.append(_install())
        return self

    def __exit__(self, *exc):
        saved = self._saved.pop()
        # Installs made inside this block (and not undone) end with it, innermost first;
        # then this block's, which restores what it found.
        for i in range(len(_installed) - 1, -1, -1):
            if _installed[i] is saved:
                for inner in reversed(_installed[i + 1:]):
                    _restore(inner)
                del _installed[i:]
                break
        _restore(saved)
        return False


__all__ = ["FUNCTIONS", "as_array", "install", "is_installed", "patch", "uninstall"]
