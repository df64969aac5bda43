"""`fastinit init` through transformers (fastinit._hf): any architecture, the model's own
initialization recorded on meta and replayed streamed. Each checkpoint must load with no
missing, unexpected or mismatched key, and each tensor must match what
AutoModelForCausalLM.from_config gives (KS against it, constants and zero rows exact)."""
import json
import os

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")
stats = pytest.importorskip("scipy.stats")

from fastinit import checkpoint  # noqa: E402
from fastinit.cli import main  # noqa: E402
from fastinit_cli import Recorder  # noqa: E402

T = transformers
SMALL = dict(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
CONFIGS = {
    "llama": lambda: T.LlamaConfig(**SMALL, pad_token_id=5),
    "mistral": lambda: T.MistralConfig(**SMALL, pad_token_id=5),
    "qwen2": lambda: T.Qwen2Config(**SMALL, tie_word_embeddings=True, pad_token_id=5),
    "gemma": lambda: T.GemmaConfig(**SMALL, head_dim=16),
    "gpt2": lambda: T.GPT2Config(vocab_size=256, n_embd=64, n_layer=2, n_head=4,
                                 n_positions=64, bos_token_id=0, eos_token_id=0),
    "opt": lambda: T.OPTConfig(vocab_size=256, hidden_size=64, ffn_dim=128,
                               num_hidden_layers=2, num_attention_heads=4,
                               word_embed_proj_dim=64, max_position_embeddings=64,
                               bos_token_id=0, eos_token_id=2),
    "phi3": lambda: T.Phi3Config(**SMALL, pad_token_id=5, bos_token_id=1, eos_token_id=2),
    "mixtral": lambda: T.MixtralConfig(**SMALL, num_local_experts=4, num_experts_per_tok=2),
}


def write(tmp_path, cfg, *extra, seed=3):
    cfg.save_pretrained(tmp_path / "cfg")
    out = tmp_path / "out"
    rc = main(["init", str(tmp_path / "cfg" / "config.json"), "-o", str(out), "--dtype", "f32",
               "--seed", str(seed), "--via", "transformers", *extra])
    assert rc == 0
    return out


def load(out):
    model, info = T.AutoModelForCausalLM.from_pretrained(out, output_loading_info=True)
    return model, info


def reference(cfg):
    torch.manual_seed(0)
    return T.AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)


def assert_like(name, ours, ref):
    a, b = ours.detach().double().numpy(), ref.detach().double().numpy()
    assert a.shape == b.shape, name
    if np.all(b == b.flat[0]):
        assert np.all(a == b.flat[0]), f"{name}: constant {b.flat[0]} expected"
        return
    if b.ndim == 2:
        zero_rows = np.all(b == 0, axis=1)
        assert np.array_equal(np.all(a == 0, axis=1), zero_rows), f"{name}: zero rows differ"
        a, b = a[~zero_rows], b[~zero_rows]
    # Deterministic on both sides (fixed seeds): not flaky. Tiny tensors only need the
    # scale: KS on fewer than 1000 values says little.
    if b.size >= 1000:
        p = stats.ks_2samp(a.ravel(), b.ravel()).pvalue
        assert p > 1e-3, f"{name}: KS p={p:.2g} against from_config"
    else:
        assert 0.6 < a.std() / b.std() < 1.6, name


@pytest.mark.parametrize("arch", sorted(CONFIGS))
def test_loads_and_matches_from_config(tmp_path, arch):
    cfg = CONFIGS[arch]()
    out = write(tmp_path, cfg)
    model, info = load(out)
    assert not info["unexpected_keys"] and not info["mismatched_keys"], info
    assert not info["missing_keys"], info
    ref = reference(cfg)
    ours = model.state_dict()
    theirs = ref.state_dict()
    assert set(ours) == set(theirs)
    for name, t in theirs.items():
        if name in dict(ref.named_buffers()):
            continue
        assert_like(name, ours[name], t)


def test_gemma_norms_are_zero_centred(tmp_path):
    out = write(tmp_path, CONFIGS["gemma"]())
    from safetensors.numpy import load_file
    norms = {k: v for k, v in load_file(str(out / "model.safetensors")).items()
             if "norm" in k}
    assert len(norms) == 5 and all(np.all(v == 0) for v in norms.values())


def test_padding_row_is_zero(tmp_path):
    from safetensors.numpy import load_file
    t = load_file(str(write(tmp_path, CONFIGS["llama"]()) / "model.safetensors"))
    emb = t["model.embed_tokens.weight"]
    assert np.all(emb[5] == 0) and np.all(emb[4] != 0) and np.all(emb[6] != 0)


def test_gpt2_scaled_projection(tmp_path):
    from safetensors.numpy import load_file
    t = load_file(str(write(tmp_path, CONFIGS["gpt2"]()) / "model.safetensors"))
    # GPT-2's own init: c_proj ~ N(0, 0.02 / sqrt(2 * n_layer)), the rest N(0, 0.02).
    for name, std in (("transformer.h.0.attn.c_proj.weight", 0.02 / 2),
                      ("transformer.h.0.mlp.c_proj.weight", 0.02 / 2),
                      ("transformer.h.0.mlp.c_fc.weight", 0.02)):
        p = stats.kstest(t[name].ravel() / std, "norm").pvalue
        assert p > 1e-3, (name, p)
    assert "lm_head.weight" not in t     # tied: saved once, as save_pretrained does


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    a = write(tmp_path / "a", CONFIGS["mixtral"](), seed=7)
    b = write(tmp_path / "b", CONFIGS["mixtral"](), seed=7)
    c = write(tmp_path / "c", CONFIGS["mixtral"](), seed=8)
    read = lambda d: (d / "model.safetensors").read_bytes()  # noqa: E731
    assert read(a) == read(b) and read(a) != read(c)


def test_blocks_do_not_change_bytes(tmp_path, monkeypatch):
    """Fills over parts (a padding row) cut by blocks of any size give the same bytes."""
    a = write(tmp_path / "a", CONFIGS["llama"]())
    monkeypatch.setattr(checkpoint, "BLOCK_BYTES", 4096)
    b = write(tmp_path / "b", CONFIGS["llama"]())
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()


def test_trunc_normal_and_torch_default_schemes(tmp_path):
    from safetensors.numpy import load_file
    t = load_file(str(write(tmp_path / "t", CONFIGS["opt"](), "--scheme", "trunc-normal")
                      / "model.safetensors"))
    w = t["model.decoder.layers.0.fc1.weight"]
    assert np.abs(w).max() <= 0.04 and w.std() > 0.015
    assert np.all(t["model.decoder.final_layer_norm.weight"] == 1)
    t = load_file(str(write(tmp_path / "d", CONFIGS["opt"](), "--scheme", "torch-default")
                      / "model.safetensors"))
    w = t["model.decoder.layers.0.fc1.weight"]          # kaiming_uniform(a=sqrt 5): 1/sqrt(64)
    assert np.abs(w).max() <= 1 / 8 and np.abs(w).max() > 0.12
    assert np.all(t["model.decoder.final_layer_norm.weight"] == 1)


def test_default_via_is_transformers_for_other_types(tmp_path):
    cfg = CONFIGS["phi3"]()
    cfg.save_pretrained(tmp_path / "cfg")
    out = tmp_path / "out"
    assert main(["init", str(tmp_path / "cfg" / "config.json"), "-o", str(out)]) == 0
    _, info = load(out)
    assert not info["missing_keys"] and not info["unexpected_keys"]


def test_builtin_refuses_other_types(tmp_path, capsys):
    cfg = CONFIGS["mixtral"]()
    cfg.save_pretrained(tmp_path / "cfg")
    out = tmp_path / "out"
    rc = main(["init", str(tmp_path / "cfg" / "config.json"), "-o", str(out), "--via",
               "builtin"])
    assert rc == 2 and not out.exists()
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "mixtral" in err


def test_unknown_model_type(tmp_path, capsys):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"model_type": "no-such-model", "hidden_size": 8}))
    assert main(["init", str(p), "-o", str(tmp_path / "out")]) == 2
    assert "no-such-model" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_writer_process_does_not_import_torch(tmp_path):
    """Recording runs in a spawned child: the writing process never loads torch or
    transformers (their few hundred MB of RSS), and the result is the same bytes."""
    import subprocess
    import sys
    cfg = CONFIGS["gpt2"]()
    cfg.save_pretrained(tmp_path / "cfg")
    out = tmp_path / "out"
    code = ("import sys; from fastinit.cli import main; "
            f"rc = main(['init', {str(tmp_path / 'cfg' / 'config.json')!r}, '-o', {str(out)!r}, "
            "'--dtype', 'f32', '--seed', '3']); "
            "print(rc, 'torch' in sys.modules, 'transformers' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300)
    assert r.stdout.strip().splitlines()[-1] == "0 False False", r.stdout + r.stderr
    same = write(tmp_path / "inproc", cfg)
    assert (out / "model.safetensors").read_bytes() == (same / "model.safetensors").read_bytes()


# ---- a tensor computed in memory --------------------------------------------------------------

class ComputedConfig(T.PreTrainedConfig):
    model_type = "fastinit-test-computed"

    def __init__(self, vocab_size=64, hidden_size=32, copy_row=True, **kwargs):
        self.vocab_size, self.hidden_size, self.copy_row = vocab_size, hidden_size, copy_row
        super().__init__(**kwargs)


def _table(shape):
    return torch.sin(torch.arange(shape[0] * shape[1], dtype=torch.float32)).reshape(shape)


class ComputedModel(T.PreTrainedModel):
    """Its _init_weights copies a computed tensor into ``table`` (whole) and into row 0 of
    ``mixed`` (after a normal fill): neither can be streamed."""
    config_class = ComputedConfig

    def __init__(self, config):
        super().__init__(config)
        self.embed = torch.nn.Embedding(config.vocab_size, config.hidden_size)
        self.table = torch.nn.Parameter(torch.empty(config.vocab_size, config.hidden_size))
        self.mixed = torch.nn.Parameter(torch.empty(config.vocab_size, config.hidden_size))
        self.head = torch.nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def _init_weights(self, module):
        from transformers import initialization as init
        if isinstance(module, (torch.nn.Embedding, torch.nn.Linear)):
            init.normal_(module.weight, std=0.02)
        if isinstance(module, ComputedModel):
            init.copy_(module.table, _table(module.table.shape))
            init.normal_(module.mixed, std=1.0)
            if self.config.copy_row:
                module.mixed[0].copy_(torch.arange(module.mixed.shape[1], dtype=torch.float32))

    def forward(self, input_ids=None, **kwargs):
        return self.head(self.embed(input_ids) + self.table[input_ids])


@pytest.fixture(scope="module")
def computed_model():
    # Registered once per process (the Auto classes refuse a second registration).
    if ComputedConfig.model_type not in T.CONFIG_MAPPING:
        T.AutoConfig.register(ComputedConfig.model_type, ComputedConfig)
        T.AutoModelForCausalLM.register(ComputedConfig, ComputedModel)
    return ComputedConfig


def test_computed_in_memory(tmp_path, capsys, computed_model):
    """A copy_ from a computed tensor: that tensor is made whole in memory and named in the
    summary; the values are the copy exactly (and, in ``mixed``, fastinit's normal fill where
    the copy did not write, bit for bit what the streamed fill gives); the other tensors keep
    their place in the stream; from_pretrained finds every key."""
    from safetensors.numpy import load_file
    out = write(tmp_path / "a", computed_model())
    summary = capsys.readouterr().out
    assert "computed in memory (not streamable): table, mixed" in summary
    model, info = load(out)
    assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys"))
    assert torch.equal(model.table.detach(), _table((64, 32)))
    mixed = model.mixed.detach()
    assert torch.equal(mixed[0], torch.arange(32, dtype=torch.float32))
    assert stats.kstest(mixed[1:].numpy().ravel(), "norm").pvalue > 1e-3
    # Without the row copy, mixed streams (one normal fill); the rest is the same bytes.
    ref = write(tmp_path / "b", computed_model(copy_row=False))
    assert "computed in memory (not streamable): table\n" in capsys.readouterr().out
    a, b = load_file(str(out / "model.safetensors")), load_file(str(ref / "model.safetensors"))
    assert a.keys() == b.keys() == {"embed.weight", "table", "mixed", "head.weight"}
    assert np.array_equal(a["mixed"][1:].view(np.uint32), b["mixed"][1:].view(np.uint32))
    assert not np.array_equal(a["mixed"][0], b["mixed"][0])
    for k in ("embed.weight", "table", "head.weight"):
        assert np.array_equal(a[k].view(np.uint32), b[k].view(np.uint32)), k


def test_computed_in_memory_dry_run(tmp_path, capsys, computed_model):
    computed_model().save_pretrained(tmp_path / "cfg")
    assert main(["init", str(tmp_path / "cfg" / "config.json"), "-o", str(tmp_path / "o"),
                 "--dry-run"]) == 0
    text = capsys.readouterr().out
    rows = {line.split()[0]: line for line in text.splitlines() if line[:1].isalpha()}
    assert "computed in memory" in rows["table"] and "computed in memory" in rows["mixed"]
    assert "normal(mean=0, std=0.02)" in rows["head.weight"]
    assert not (tmp_path / "o").exists()


# ---- the recording child ------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(CONFIGS))
def test_child_records_what_the_process_records(arch):
    """The child's trimmed start-up (transformers.models as a plain package, so that the
    model files are not scanned twice) records exactly what transformers loaded as usual
    (in this process) records."""
    from fastinit import _hf, _record
    cfg = CONFIGS[arch]().to_dict()
    mine = _record.recorded_plan(cfg, "hf", tuple(checkpoint.INITS))
    child = _hf.Recording(cfg, "hf", trim=True).answer()
    assert child["trimmed"] and child["collector_off"]
    assert child["entries"] == mine["entries"]


def _recording_children(pkg):
    """Processes running the recording child's program for this source tree."""
    out = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace")
        except OSError:
            continue
        if "_record.main(" in cmd and repr(pkg) in cmd:
            out.append(pid)
    return out


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
@pytest.mark.parametrize("entry", ["python -m fastinit", "fastinit_cli"])
def test_ctrl_c_while_the_child_records(tmp_path, entry):
    """Ctrl-C (SIGINT to the terminal's process group) while the child imports: one line,
    exit code 130, nothing written, and the child ended with the writer. Through the
    command's entry point (fastinit_cli) the child starts before fastinit is imported, so
    the Ctrl-C may come during that import."""
    import signal
    import subprocess
    import sys
    import time
    import fastinit
    pkg = os.path.dirname(os.path.abspath(fastinit.__file__))
    CONFIGS["gpt2"]().save_pretrained(tmp_path / "cfg")
    out = tmp_path / "out"
    how = ["-m", "fastinit"] if entry == "python -m fastinit" else \
        ["-c", "import sys; from fastinit_cli import main; sys.exit(main())"]
    # The command must start with SIGINT's default action, as from a terminal, whatever this
    # process has: a shell starts a background job (the whole test run, say) with SIGINT
    # ignored, and an ignored signal stays ignored across exec. A handler does not.
    old = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        p = subprocess.Popen([sys.executable, *how, "init",
                              str(tmp_path / "cfg" / "config.json"), "-o", str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True,
                             env=dict(os.environ, FASTINIT_PLAN_CACHE="0"))  # a child to stop
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)
    deadline = time.monotonic() + 60
    while not _recording_children(pkg) and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.05)
    assert _recording_children(pkg), "the child never started"
    os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and err == "fastinit: interrupted; nothing was written\n", err
    assert not out.exists()
    time.sleep(0.2)
    assert not _recording_children(pkg)


# ---- the plan cache (fastinit._plan_cache) ----------------------------------------------------

def _cli(tmp_path, cfg_path, out, *extra):
    """The CLI in a fresh process (recording in a child, where the cache applies), with the
    cache under tmp_path; (stdout, the checkpoint's bytes)."""
    import subprocess
    import sys
    code = "import sys; from fastinit.cli import main; sys.exit(main(sys.argv[1:]))"
    env = dict(os.environ, FASTINIT_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("FASTINIT_PLAN_CACHE", None)
    r = subprocess.run([sys.executable, "-c", code, "init", str(cfg_path), "-o", str(out),
                        "--dtype", "f32", "--seed", "5", "--force", *extra],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout, (out / "model.safetensors").read_bytes()


@pytest.mark.slow
def test_plan_cache_reuses_refreshes_and_keys(tmp_path):
    """A second run takes the plan the first recorded and writes the same bytes; so does
    --no-plan-cache, which records again; a damaged cache file is recorded over; another
    config is another plan."""
    from fastinit import _plan_cache
    cfg = CONFIGS["gpt2"]()
    cfg.save_pretrained(tmp_path / "cfg")
    path = tmp_path / "cfg" / "config.json"
    plans = tmp_path / "cache" / "plans"
    cold, first = _cli(tmp_path, path, tmp_path / "a")
    assert "recorded its own initialization" in cold
    files = list(plans.glob("*.json"))
    assert len(files) == 1
    warm, again = _cli(tmp_path, path, tmp_path / "b")
    assert "the plan recorded by an earlier run" in warm and "recorded its own" not in warm
    assert again == first
    forced, third = _cli(tmp_path, path, tmp_path / "c", "--no-plan-cache")
    assert "recorded its own initialization" in forced and third == first
    files[0].write_text('{"key": "not this", "entries": []}')
    redone, fourth = _cli(tmp_path, path, tmp_path / "d")
    assert "recorded its own initialization" in redone and fourth == first
    assert json.loads(files[0].read_text())["key"] != "not this"
    # Another initializer_range: another key, and other values.
    T.GPT2Config(**{**cfg.to_dict(), "initializer_range": 0.05}).save_pretrained(
        tmp_path / "cfg2")
    other, fifth = _cli(tmp_path, tmp_path / "cfg2" / "config.json", tmp_path / "e")
    assert "recorded its own initialization" in other and fifth != first
    assert len(list(plans.glob("*.json"))) == 2
    assert _plan_cache.directory() != str(plans)    # the tests' own, not this one


def test_plan_cache_json_is_exact(tmp_path, monkeypatch):
    """Plans go through JSON exactly (tuples, slices, ints against floats, infinities), a
    plan with a tensor computed in memory is not kept, and a file is read back only for the
    key it was written for."""
    from fastinit import _plan_cache as C
    monkeypatch.setenv("FASTINIT_CACHE_DIR", str(tmp_path))
    entries = [("a.weight", (4, 3), [("normal", {"mean": 0.0, "std": 0.02}, ()),
                                     ("zeros", {}, (1, slice(0, 3)))], None),
               ("b", (2,), [("uniform", {"a": -1, "b": float("inf")}, ())], None),
               ("c", (5,), [("kaiming_uniform", {"a": 2.23606797749979, "mode": "fan_in",
                                                  "nonlinearity": "leaky_relu"}, ())], None)]
    k = ("0" * 64, "material")
    assert C.store(k, entries)
    back = C.load(k)
    assert C._same(back, entries) and back == entries
    assert isinstance(back[1][2][0][1]["a"], int) and isinstance(back[0][2][1][2][1], slice)
    assert C.load(("0" * 64, "other material")) is None
    assert not C._same([(1, {"a": 1})], [(1, {"a": 1.0})])
    computed = entries + [("d", (2,), None, [("value", {}, (0, (2,), (1,)), None)])]
    assert not C.store(("1" * 64, "m"), computed)
    assert not (tmp_path / "plans" / ("1" * 64 + ".json")).exists()


def test_plan_cache_key(tmp_path, monkeypatch):
    """The key changes with the config, the scheme and any file of the code that records;
    a model type whose directory transformers does not have is not cached."""
    from fastinit import _plan_cache as C
    cfg = CONFIGS["gpt2"]().to_dict()
    kinds = tuple(checkpoint.INITS)
    k = C.key(cfg, "hf", kinds)
    assert k is not None and k == C.key(dict(cfg), "hf", kinds)
    files = C.code_files("gpt2")
    assert any(f.endswith(os.path.join("gpt2", "modeling_gpt2.py")) for f in files)
    assert any(f.endswith(os.path.join("nn", "init.py")) for f in files)
    assert C.key({**cfg, "initializer_range": 0.05}, "hf", kinds)[0] != k[0]
    assert C.key(cfg, "torch-default", kinds)[0] != k[0]
    assert C.key({**cfg, "model_type": "no-such-model"}, "hf", kinds) is None
    fake = tmp_path / "modeling_fake.py"
    fake.write_text("x = 1\n")
    monkeypatch.setattr(C, "code_files", lambda model_type: files + [str(fake)])
    k1 = C.key(cfg, "hf", kinds)
    fake.write_text("x = 22\n")                  # another size
    assert C.key(cfg, "hf", kinds)[0] != k1[0]
    monkeypatch.setenv("FASTINIT_PLAN_CACHE", "0")
    assert not C.enabled()


# ---- the recording child started before fastinit is imported (fastinit_cli) ----------------

def test_entry_point_knows_the_built_in_types():
    import fastinit_cli
    assert fastinit_cli.BUILTIN_TYPES == checkpoint.BUILTIN_TYPES


def test_entry_point_starts_a_recorder_only_where_transformers_records(tmp_path):
    """fastinit_cli guesses from the command line and the config's model_type alone."""
    import fastinit_cli
    w = fastinit_cli._wants_recorder
    gpt2, llama, spec = tmp_path / "gpt2.json", tmp_path / "llama.json", tmp_path / "spec.json"
    gpt2.write_text(json.dumps({"model_type": "gpt2"}))
    llama.write_text(json.dumps({"model_type": "llama"}))
    spec.write_text(json.dumps({"tensors": []}))
    assert w(["init", str(gpt2), "-o", "x"])
    assert w(["init", "-o", "x", str(gpt2), "--dtype", "f32", "--seed=3"])
    assert w(["init", "--output=x", str(llama), "--via", "transformers"])
    assert w(["init", str(tmp_path / "c.json"), "-o", str(gpt2)]) is False   # no such config
    assert not w(["init", str(llama), "-o", "x"])
    assert not w(["init", str(gpt2), "-o", "x", "--via=builtin"])
    assert not w(["init", "--preset", "llama-100m", "-o", "x"])
    assert not w(["init", str(spec), "-o", "x"])
    assert not w(["init", str(gpt2), "-o", "x", "--help"])
    assert not w(["init", "-o", "x"])
    assert not w(["--version"])
    assert not w([])


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_entry_point_recorder_gives_the_same_bytes_and_ends(tmp_path):
    """Through the `fastinit` command's entry point the child is started before fastinit is
    imported: the same bytes as recording in this process; after a run that records and one
    whose plan is cached (the early child ended unused), no recording child is left."""
    import subprocess
    import sys
    import fastinit
    pkg = os.path.dirname(os.path.abspath(fastinit.__file__))
    cfg = CONFIGS["gpt2"]()
    cfg.save_pretrained(tmp_path / "cfg")
    code = "import sys; from fastinit_cli import main; sys.exit(main())"
    env = dict(os.environ, FASTINIT_CACHE_DIR=str(tmp_path / "cache"), FASTINIT_PLAN_CACHE="1")
    outs = []
    for run in ("recorded", "cached"):
        out = tmp_path / run
        r = subprocess.run([sys.executable, "-c", code, "init",
                            str(tmp_path / "cfg" / "config.json"), "-o", str(out), "--dtype",
                            "f32", "--seed", "3"], capture_output=True, text=True,
                           timeout=300, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert ("recorded its own" in r.stdout) == (run == "recorded"), r.stdout
        assert _recording_children(pkg) == []
        outs.append((out / "model.safetensors").read_bytes())
    same = write(tmp_path / "inproc", cfg)
    assert outs[0] == outs[1] == (same / "model.safetensors").read_bytes()


class _FailingRecorder(Recorder):
    """A recording child that answers as one whose trimmed start-up failed would."""

    def __init__(self):
        import subprocess
        import sys
        import time
        self.t0 = time.perf_counter()
        answer = "('exception', 'RuntimeError: scipy did not come back')"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import pickle, sys; sys.stdin.buffer.read(); "
             f"sys.stdout.buffer.write(pickle.dumps({answer}))"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)


@pytest.mark.slow
def test_failed_trimmed_recording_is_recorded_again_untrimmed():
    """A child whose trimmed start-up fails (fastinit._record's shortcuts, on a transformers
    laid out otherwise) is followed by one that loads transformers as usual, whose plan is
    the in-process one; an exception of the untrimmed child is the error."""
    from fastinit import _hf, _record
    cfg = CONFIGS["opt"]().to_dict()
    rec = _hf.Recording(cfg, "hf", trim=True, recorder=_FailingRecorder())
    try:
        got = rec.answer()
    finally:
        rec.close()
    assert got["trimmed"] is False
    assert got["entries"] == _record.recorded_plan(cfg, "hf", tuple(checkpoint.INITS))["entries"]
    rec = _hf.Recording(cfg, "hf", trim=False, recorder=_FailingRecorder())
    with pytest.raises(checkpoint.CheckpointError, match="scipy did not come back"):
        rec.answer()
    rec.close()
