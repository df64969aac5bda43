"""Recorded plans of ``fastinit init --via transformers``, kept on disk (fastinit._hf).

Recording a model's initialization takes seconds, nearly all of them importing torch and
transformers in the recording child; writing the checkpoint takes about as long again for a
7B model. The plan depends only on what is in its key, so the next checkpoint of the same
config (another seed, another output) reuses it and starts writing at once.

The key: the config (every key of it), the scheme, the fill kinds the writer streams, and the
code that builds and records the model, without importing it: torch's and transformers'
versions, the size and modification time of the files that define the model and its
initialization (transformers' modeling and initialization modules, the model type's own
directory, torch.nn.init), and the bytes of fastinit's recorder. Editing, upgrading or
reinstalling any of them changes the key. A model type whose directory cannot be found is
not cached.

Only plans of streamed fills are kept (a tensor computed in memory carries arrays), as JSON
that must give back the plan exactly (checked before writing). A file that does not read
back as a plan for its key is ignored and replaced. Where: $FASTINIT_CACHE_DIR/plans, else
$XDG_CACHE_HOME/fastinit/plans, else ~/.cache/fastinit/plans. FASTINIT_PLAN_CACHE=0 (or
``fastinit init --no-plan-cache``) turns it off.
"""
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import tempfile

FORMAT = 1


def enabled():
    return os.environ.get("FASTINIT_PLAN_CACHE", "1").strip().lower() not in ("0", "no",
                                                                            "false", "off")


def directory():
    d = os.environ.get("FASTINIT_CACHE_DIR")
    if not d:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                ".cache")
        d = os.path.join(base, "fastinit")
    return os.path.join(d, "plans")


def _package_dir(name):
    try:
        spec = importlib.util.find_spec(name)   # a top-level package: found, not imported
    except (ImportError, ValueError):
        return None
    locs = spec.submodule_search_locations if spec is not None else None
    return list(locs)[0] if locs else None


def code_files(model_type):
    """The files whose code decides a model type's recorded plan, or None when they cannot
    all be found (not cached then)."""
    tf, tc = _package_dir("transformers"), _package_dir("torch")
    if tf is None or tc is None or not isinstance(model_type, str):
        return None
    mdir = os.path.join(tf, "models", model_type.replace("-", "_"))
    if not os.path.isdir(mdir):
        return None
    files = [os.path.join(tf, f) for f in ("__init__.py", "modeling_utils.py",
                                           "initialization.py", "configuration_utils.py",
                                           "pytorch_utils.py")]
    files += sorted(os.path.join(mdir, f) for f in os.listdir(mdir) if f.endswith(".py"))
    files += [os.path.join(tc, "nn", "init.py"), os.path.join(tc, "version.py")]
    here = os.path.dirname(os.path.abspath(__file__))
    files += [os.path.join(here, f) for f in ("_record.py", "_routes.py", "checkpoint.py")]
    return files


def _stamp(path, here):
    """A file's identity in the key: fastinit's own by content (a source checkout keeps
    mtimes meaningless across edits that restore them), the others by size and mtime."""
    if os.path.dirname(path) == here:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def key(cfg, scheme, kinds):
    """(digest, material) of a recording request, or None when it is not to be cached."""
    files = code_files(cfg.get("model_type"))
    if files is None:
        return None
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        versions = {p: importlib.metadata.version(p) for p in ("torch", "transformers")}
        stamps = {f: _stamp(f, here) if os.path.exists(f) else "absent" for f in files}
        material = json.dumps({"format": FORMAT, "cfg": cfg, "scheme": scheme,
                               "kinds": list(kinds), "versions": versions, "files": stamps},
                              sort_keys=True, allow_nan=True)
    except (OSError, ValueError, TypeError, importlib.metadata.PackageNotFoundError):
        return None
    return hashlib.sha256(material.encode()).hexdigest(), material


# ---- the plan as JSON, exactly ---------------------------------------------------------------

def _enc(x):
    if isinstance(x, tuple):
        return {"t": [_enc(v) for v in x]}
    if isinstance(x, list):
        return [_enc(v) for v in x]
    if isinstance(x, dict):
        if not all(isinstance(k, str) for k in x):
            raise TypeError("a key that is not a string")
        return {"d": {k: _enc(v) for k, v in x.items()}}
    if isinstance(x, slice):
        return {"s": [x.start, x.stop, x.step]}
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    raise TypeError(f"{type(x).__name__} in a plan")


def _dec(x):
    if isinstance(x, list):
        return [_dec(v) for v in x]
    if isinstance(x, dict):
        (tag, v), = x.items()
        if tag == "t":
            return tuple(_dec(i) for i in v)
        if tag == "d":
            return {k: _dec(i) for k, i in v.items()}
        if tag == "s":
            return slice(*v)
        raise ValueError(f"unknown tag {tag!r}")
    return x


def _same(a, b):
    """Equal, and of the same types all the way down (1 == 1.0 == True would pass ==)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and a != a:
        return b != b
    return a == b


def load(k):
    """The cached entries for key k (from key()), or None."""
    digest, material = k
    try:
        with open(os.path.join(directory(), digest + ".json"), encoding="utf-8") as f:
            data = json.load(f)
        if data.get("key") != material:
            return None
        return _dec(data["entries"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def store(k, entries):
    """Keep entries (a recorded plan's) under key k, atomically; quietly nothing if they are
    not all streamed fills, do not give themselves back exactly, or cannot be written."""
    if any(fills is None for _, _, fills, _ in entries):
        return False
    digest, material = k
    try:
        enc = _enc(entries)
        text = json.dumps({"key": material, "entries": enc}, allow_nan=True)
        if not _same(_dec(json.loads(text)["entries"]), entries):
            return False
        d = directory()
        os.makedirs(d, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".plan-", suffix=".tmp", dir=d)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, os.path.join(d, digest + ".json"))
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, TypeError, ValueError):
        return False
    return True
