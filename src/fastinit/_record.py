"""A transformers model's own initialization, recorded on the ``meta`` device (for
fastinit._hf, which turns the records into a checkpoint plan).

The model is built from its config on meta (no memory, no values), and its
``initialize_weights`` (every module's ``_init_weights``) is run there with every route to a
fill recorded instead of run (fastinit._routes): torch.nn.init's functions wherever bound,
transformers' ``TORCH_INIT_FUNCTIONS`` and the Tensor methods below. A record names its
parameter by storage (``.data`` and views share it) and the part written (a view such as a
``padding_idx`` row becomes an index of the parameter).

This runs in a child process started by fastinit._hf (``main``), which loads this module and
fastinit._routes alone: not the fastinit package, whose C core and ml_dtypes (about a second
of CPU) the writer needs and this does not. So nothing here imports another fastinit
module, and results cross back as plain tuples (the writer has no torch to unpickle this
module's objects).
"""
import gc
import inspect
import os
import sys
import time


class RecordError(Exception):
    """A config or model that cannot be recorded: one line for the user."""


# torch.nn.init's names -> fastinit's fill kinds (checkpoint.INITS), and their parameters.
_KINDS = {"uniform_": ("uniform", ("a", "b")), "normal_": ("normal", ("mean", "std")),
          "trunc_normal_": ("trunc_normal", ("mean", "std", "a", "b")),
          "constant_": ("constant", ("val",)), "ones_": ("ones", ()), "zeros_": ("zeros", ()),
          "eye_": ("eye", ()), "dirac_": ("dirac", ("groups",)),
          "xavier_uniform_": ("xavier_uniform", ("gain",)),
          "xavier_normal_": ("xavier_normal", ("gain",)),
          "kaiming_uniform_": ("kaiming_uniform", ("a", "mode", "nonlinearity")),
          "kaiming_normal_": ("kaiming_normal", ("a", "mode", "nonlinearity")),
          "orthogonal_": ("orthogonal", ("gain",)), "sparse_": ("sparse", ("sparsity", "std"))}

# Tensor methods recorded on meta tensors: the fills, and in-place arithmetic (replayed with
# torch in memory; its absence from the record would silently change the values).
FILL_METHODS = ("normal_", "uniform_", "fill_", "zero_", "copy_")
ARITH_METHODS = ("mul_", "div_", "add_", "sub_", "clamp_", "clamp_min_", "clamp_max_",
                 "erfinv_", "exp_", "neg_", "abs_", "sqrt_", "pow_", "fill_diagonal_")
OTHER_RANDOM = ("exponential_", "log_normal_", "bernoulli_", "random_", "cauchy_",
                "geometric_")
METHODS = FILL_METHODS + ARITH_METHODS + OTHER_RANDOM


class _Rec:
    """A write: kind (a fill kind, "value", "torch", "temp" or "unsupported"), params, and
    the part of a storage written as (storage offset, shape, stride)."""
    __slots__ = ("kind", "params", "geom", "value", "why")

    def __init__(self, kind, params, geom, value=None, why=None):
        self.kind, self.params, self.geom, self.value, self.why = kind, params, geom, value, why

    def plain(self):
        return (self.kind, self.params, self.geom, self.value)


class Recorder:
    """Records, per storage, the writes that reach meta tensors while active."""

    def __init__(self):
        self.writes = {}        # storage key -> [_Rec]
        self.keep = []          # temporaries, alive so that their storage keys stay theirs
        self.params = set()     # storage keys of the model's tensors (copy_ from them: no)

    @staticmethod
    def key(t):
        return t.untyped_storage()._cdata

    def add(self, t, rec):
        self.keep.append(t)
        self.writes.setdefault(self.key(t), []).append(rec)

    def geom(self, t):
        return (t.storage_offset(), tuple(t.shape), tuple(t.stride()))

    def function(self, name, previous):
        import torch
        sig = inspect.signature(previous)
        kind, names = _KINDS.get(name, (None, ()))
        rec = self

        def recorded(*args, **kwargs):
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            t = bound.arguments["tensor"]
            if not isinstance(t, torch.Tensor) or t.device.type != "meta":
                return previous(*args, **kwargs)
            if kind is None:
                rec.add(t, _Rec("unsupported", {}, rec.geom(t), why=f"torch.nn.init.{name}"))
            else:
                params = {k: bound.arguments[k] for k in names}
                rec.add(t, _Rec(kind, params, rec.geom(t)))
            return t
        return recorded

    def method(self, name, previous):
        import torch
        rec = self

        def recorded(t, *args, **kwargs):
            if not isinstance(t, torch.Tensor) or t.device.type != "meta":
                return previous(t, *args, **kwargs)
            rec.add(t, rec._method_record(name, t, args, kwargs))
            return t
        return recorded

    def _method_record(self, name, t, args, kwargs):
        import torch
        from fastinit import _routes
        geom = self.geom(t)
        kw = {("from_" if k == "from" else k): v for k, v in kwargs.items()}
        try:
            if name == "normal_":
                b = inspect.signature(_routes.normal_signature).bind(t, *args, **kw).arguments
                return _Rec("normal", {"mean": b.get("mean", 0.0), "std": b.get("std", 1.0)},
                            geom)
            if name == "uniform_":
                b = inspect.signature(_routes.uniform_signature).bind(t, *args, **kw).arguments
                return _Rec("uniform", {"a": b.get("from_", 0.0), "b": b.get("to", 1.0)}, geom)
            if name == "zero_":
                return _Rec("zeros", {}, geom)
            if name == "fill_":
                v = args[0] if args else kw["value"]
                if isinstance(v, torch.Tensor) and v.device.type != "meta":
                    v = v.item()
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    return _Rec("constant", {"val": float(v)}, geom)
                return _Rec("unsupported", {}, geom, why=f"fill_({type(v).__name__})")
            if name == "copy_":
                return self._copy(t, args[0] if args else kw["src"], geom)
        except (TypeError, KeyError):
            return _Rec("unsupported", {}, geom, why=f"Tensor.{name} with these arguments")
        if name in OTHER_RANDOM:
            return _Rec("unsupported", {}, geom, why=f"Tensor.{name}")
        if any(isinstance(a, torch.Tensor) and a.device.type == "meta"
               for a in list(args) + list(kwargs.values())):
            return _Rec("unsupported", {}, geom, why=f"Tensor.{name} of a meta tensor")
        return _Rec("torch", {"method": name, "args": args, "kwargs": kwargs}, geom)

    def _copy(self, t, src, geom):
        import torch
        if not isinstance(src, torch.Tensor):
            return _Rec("torch", {"method": "fill_", "args": (src,), "kwargs": {}}, geom)
        if src.device.type != "meta":        # a computed value: kept, replayed in memory
            # As float64 NumPy: the writing process has no torch to unpickle a tensor.
            return _Rec("value", {}, geom, value=src.detach().to("cpu", torch.float64).numpy())
        # A temporary filled on meta and copied in (transformers' orthogonal_ for 16-bit
        # tensors, say): its fills stand for the copy, drawn afresh, so the distribution is
        # the same. From one of the model's own tensors the values would have to be equal:
        # not replayable.
        k = self.key(src)
        recs = self.writes.get(k, [])
        if k in self.params or not recs or src.shape != t.shape \
                or any(r.geom != self.geom(src) for r in recs):
            return _Rec("unsupported", {}, geom, why="copy_ from a meta tensor")
        return _Rec("temp", {"recs": list(recs)}, geom)

    def __enter__(self):
        from fastinit import _routes
        self._saved = _routes.install(self.function, METHODS, self.method)
        return self

    def __exit__(self, *exc):
        from fastinit import _routes
        _routes.restore(self._saved)
        return False


def _index(full, geom):
    """The basic index (ints, step-1 slices) of a contiguous tensor of shape full whose view
    is geom = (storage offset, shape, stride), or None when the view is not one."""
    offset, shape, stride = geom
    pst, acc = [], 1
    for n in reversed(full):
        pst.insert(0, acc)
        acc *= n
    if tuple(shape) == tuple(full) and offset == 0 and all(
            s == p or n <= 1 for n, s, p in zip(shape, stride, pst)):
        return ()
    if 0 in full:
        return None
    start, rem = [], offset
    for p, n in zip(pst, full):
        start.append(rem // p)
        rem %= p
    idx, d = [], 0
    for n, s in zip(shape, stride):
        while d < len(full) and not (s == pst[d] or n == 1):
            idx.append(start[d])
            d += 1
        if d == len(full) or start[d] + n > full[d]:
            return None
        idx.append(slice(start[d], start[d] + n))
        d += 1
    idx += start[d:]
    # Check: the index's own offset and strides are the view's.
    if sum(start[i] * pst[i] for i in range(len(full))) != offset:
        return None
    return tuple(idx)


def _flatten(recs):
    """The records with copies from temporaries replaced by the temporaries' fills."""
    out = []
    for r in recs:
        if r.kind == "temp":
            inner = _flatten(r.params["recs"])
            out += [_Rec(i.kind, i.params, r.geom, i.value, i.why) for i in inner]
        else:
            out.append(r)
    return out


def build(cfg):
    """The model of a config dict on the meta device, untied (as its weights are when
    ``from_config`` initializes them), and transformers' config object."""
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.initialization import no_tie_weights
    model_type = cfg.get("model_type")
    try:
        config = AutoConfig.for_model(**cfg) if model_type else None
    except (ValueError, KeyError):
        raise RecordError(f"config: transformers {transformers.__version__} does not "
                          f"know model_type {model_type!r}") from None
    if config is None:
        raise RecordError("config: no model_type")
    archs = cfg.get("architectures") or []
    cls = getattr(transformers, archs[0], None) if archs else None
    try:
        with torch.device("meta"), no_tie_weights():
            if cls is not None and hasattr(cls, "_from_config"):
                model = cls._from_config(config, dtype=torch.float32)
            else:
                model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    except ValueError as e:
        raise RecordError(f"config: {model_type}: {str(e).splitlines()[0]}") from None
    return model, config


def record(model):
    """{state-dict name: (tensor, [_Rec])} of the model's own initialization (tied copies
    dropped, as save_pretrained does)."""
    import torch
    rec = Recorder()
    sd = model.state_dict(keep_vars=True)
    rec.params = {Recorder.key(t) for t in sd.values()}
    with rec, torch.no_grad():
        model.initialize_weights()
    model.tie_weights()         # after initialization, as from_config does
    sd = model.state_dict(keep_vars=True)
    tied = set(getattr(model, "all_tied_weights_keys", None) or {})
    seen, out = set(), {}
    for name, t in sd.items():
        k = Recorder.key(t)
        if name in tied or k in seen:
            continue
        seen.add(k)
        out[name] = (t, _flatten(rec.writes.get(k, [])))
    return out


# ---- schemes --------------------------------------------------------------------------------

_OUT_PROJ = ("o_proj", "down_proj", "out_proj", "c_proj", "fc2", "dense_4h_to_h", "w2", "wo")


def _module_kind(model, name):
    import torch
    from transformers.pytorch_utils import Conv1D
    owner, _, leaf = name.rpartition(".")
    try:
        m = model.get_submodule(owner)
    except AttributeError:
        return None, leaf
    if isinstance(m, torch.nn.Linear):
        return "linear", leaf
    if isinstance(m, Conv1D):
        return "conv1d", leaf
    if isinstance(m, torch.nn.Embedding):
        return "embedding", leaf
    return None, leaf


def scheme_fills(scheme, model, name, fills, cfg):
    """The fills (init, params, index) of a tensor under a scheme: hf is the model's own; the
    others change only the weights (and biases) of nn.Linear, Conv1D and nn.Embedding, as
    documented in docs/guide.md, and keep the model's own fills everywhere else (norms, MoE
    experts, routers, ...)."""
    if scheme == "hf":
        return fills
    kind, leaf = _module_kind(model, name)
    if kind is None:
        return fills
    std = float(cfg.get("initializer_range") or 0.02)
    if scheme == "torch-default":
        if kind == "embedding" and leaf == "weight":
            m = model.get_submodule(name.rpartition(".")[0])
            out = [("normal", {"mean": 0.0, "std": 1.0}, ())]
            if m.padding_idx is not None:
                out.append(("zeros", {}, (m.padding_idx,)))
            return out
        if kind == "linear" and leaf == "weight":
            return [("kaiming_uniform", {"a": 5 ** 0.5, "mode": "fan_in",
                                         "nonlinearity": "leaky_relu"}, ())]
        if kind == "linear" and leaf == "bias":
            fan_in = model.get_submodule(name.rpartition(".")[0]).in_features
            b = 1.0 / fan_in ** 0.5 if fan_in else 0.0
            return [("uniform", {"a": -b, "b": b}, ())]
        return fills
    if leaf != "weight":
        return fills
    out = []
    for init, params, index in fills:
        if init == "normal" and scheme == "scaled" and kind != "embedding" \
                and name.rpartition(".")[0].rpartition(".")[2] in _OUT_PROJ:
            layers = int(cfg.get("num_hidden_layers") or cfg.get("n_layer") or 1)
            params = {"mean": params["mean"], "std": std / (2.0 * layers) ** 0.5}
        elif init == "normal" and scheme == "trunc-normal":
            m, s = params["mean"], params["std"]
            init, params = "trunc_normal", {"mean": m, "std": s, "a": m - 2 * s, "b": m + 2 * s}
        out.append((init, params, index))
    return out


# ---- the plan -------------------------------------------------------------------------------

def prepare(trim=False):
    """torch and transformers imported (trimmed: see _seed_models_package and
    _losses_without_scipy); their timings, and whether the cyclic collector was off for
    them (as fastinit_cli._BOOT has it)."""
    t0 = time.perf_counter()
    import torch  # noqa: F401  (timed apart)
    t1 = time.perf_counter()
    import transformers  # noqa: F401
    trimmed = bool(trim) and _seed_models_package() and _losses_without_scipy()
    return {"trimmed": trimmed, "collector_off": not gc.isenabled(), "import_torch": t1 - t0,
            "import_transformers": time.perf_counter() - t1}


def recorded_plan(cfg, scheme, kinds, trim=False, prepared=None):
    """{"entries": [(name, shape, fills or None, records or None)], "seconds": ...}: the
    model built and its initialization recorded; fills (init, params, index) where it
    streams, else the records (kind, params, geom, value) to compute it from. kinds: the fill
    kinds the writer streams (checkpoint.INITS). prepared: prepare()'s answer, if it ran."""
    if prepared is None:
        prepared = prepare(trim)
    t2 = time.perf_counter()
    model, _ = build(cfg)       # the model's own modules imported here
    t3 = time.perf_counter()
    recorded = record(model)
    t4 = time.perf_counter()
    entries, unset = [], []
    for name, (t, recs) in recorded.items():
        shape = tuple(t.shape)
        if not any(r.geom[0] == 0 and r.geom[1] == shape for r in recs):
            unset.append(name)
            continue
        fills = []
        for r in recs:
            idx = _index(shape, r.geom)
            if r.kind not in kinds or idx is None:
                fills = None
                break
            fills.append((r.kind, dict(r.params), idx))
        if fills is not None:
            # A whole-tensor fill makes the ones before it dead (GPT-2's c_proj is drawn
            # twice by its own init): not made, not drawn.
            whole = [i for i, f in enumerate(fills) if f[2] == ()]
            fills = fills[whole[-1]:]
            fills = scheme_fills(scheme, model, name, fills, cfg)
            if any(f[0] == "orthogonal" and f[2] != () for f in fills):
                fills = None
        if fills is None:
            bad = [r.why for r in recs if r.kind == "unsupported"]
            if bad:
                raise RecordError(f"{name}: its initialization cannot be replayed ({bad[0]})")
            entries.append((name, shape, None, [r.plain() for r in recs]))
            continue
        entries.append((name, shape, fills, None))
    if unset:
        raise RecordError(f"{unset[0]}: the model's initialization does not set it"
                          f"{f' (and {len(unset) - 1} more)' if len(unset) > 1 else ''}")
    return {"entries": entries, **prepared, "build": t3 - t2, "record": t4 - t3}


def _seed_models_package():
    """transformers.models as a plain package. ``import transformers`` has already scanned
    every model's files for their exports (about 3,000 files); the lazy
    ``transformers.models`` module scans them again under another cache key (half a second
    of CPU) for attribute lookups that recording does not make: submodules are imported by
    name. Only when transformers is laid out as expected; anything that fails under it is
    recorded again without (fastinit._hf)."""
    import importlib.machinery
    import types
    import transformers
    if "transformers.models" in sys.modules:
        return False
    d = os.path.join(os.path.dirname(transformers.__file__), "models")
    init = os.path.join(d, "__init__.py")
    if not os.path.isfile(init):
        return False
    m = types.ModuleType("transformers.models")
    m.__file__, m.__path__, m.__package__ = init, [d], "transformers.models"
    m.__spec__ = importlib.machinery.ModuleSpec("transformers.models", None, origin=init,
                                                is_package=True)
    m.__spec__.submodule_search_locations = [d]
    sys.modules["transformers.models"] = m
    transformers.__dict__["models"] = m
    return True


def _losses_without_scipy():
    """transformers' loss functions imported with scipy hidden: the detection losses import
    scipy.optimize (a third of a second to half a second of CPU, with sympy's share) for
    training, never used here. Then scipy is visible again, and transformers' cached answer
    forgotten, before any model's own module is imported (FNet builds a buffer with scipy
    when it is there). Returns whether scipy is visible again as before; if not, the caller
    fails and records again untrimmed."""
    import importlib.util
    if "scipy" in sys.modules or "transformers.loss.loss_utils" in sys.modules:
        return True
    from transformers.utils import import_utils
    had = importlib.util.find_spec("scipy") is not None
    sys.modules["scipy"] = None          # import scipy raises; find_spec says absent
    import_utils.is_scipy_available.cache_clear()   # (asked already by transformers' init)
    try:
        import transformers.loss.loss_utils  # noqa: F401
    finally:
        del sys.modules["scipy"]
        import_utils.is_scipy_available.cache_clear()
    if import_utils.is_scipy_available() != had:
        raise RuntimeError("scipy's availability did not come back")
    return True


def main(trim=True):
    """The child process: torch and transformers imported first, then a pickled request
    {"cfg", "scheme", "kinds"} read from stdin (the child of a command is started before the
    command has read its config: fastinit_cli); the answer, one pickle on stdout: ("ok",
    plan), ("error", one line) or ("exception", one line); then an immediate exit (tearing
    down torch's modules would take seconds). No request (stdin closed): no answer."""
    import pickle
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)               # stray prints of model code go to stderr, not into the answer
    try:
        prepared = prepare(trim)
        try:
            req = pickle.load(sys.stdin.buffer)
        except EOFError:        # not wanted after all (fastinit_cli started it early)
            os._exit(0)
        answer = ("ok", recorded_plan(**req, prepared=prepared))
    except RecordError as e:
        answer = ("error", str(e))
    except Exception as e:  # noqa: BLE001  (any failure of the model's code, one line)
        text = str(e).strip().splitlines()
        answer = ("exception", f"{type(e).__name__}{': ' + text[0] if text else ''}")
    try:
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as e:  # noqa: BLE001  (an unpicklable record)
        data = pickle.dumps(("exception", f"{type(e).__name__}: {e}"))
    try:
        out.write(data)
        out.flush()
    except OSError:         # the writer is gone (killed): nobody to answer
        os._exit(1)
    sys.stderr.flush()
    os._exit(0)
