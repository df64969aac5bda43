"""The ``fastinit init`` command: exit codes, one-line errors without tracebacks, --dry-run,
the summary table, and ``python -m fastinit`` in a subprocess."""
import hashlib
import json
import os
import subprocess
import sys

import pytest

import fastinit
from fastinit.cli import main

GOOD_CFG = {"model_type": "llama", "vocab_size": 128, "hidden_size": 64,
            "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 2, "tie_word_embeddings": False}
TINY_NAMES = ["model.embed_tokens.weight"] + [
    f"model.layers.{i}.{m}" for i in range(2) for m in (
        "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
        "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
        "mlp.down_proj.weight", "input_layernorm.weight", "post_attention_layernorm.weight")
] + ["model.norm.weight", "lm_head.weight"]
# llama-tiny: 1024*64*2 (embed, lm_head) + 2 * (64*64*2 + 32*64*2 + 176*64*3 + 64*2) + 64
LLAMA_TINY_PARAMS = 1024 * 64 * 2 + 2 * (64 * 64 * 2 + 32 * 64 * 2 + 176 * 64 * 3 + 64 * 2) + 64


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run(capsys, *argv):
    """(exit code, stdout, stderr) of fastinit.cli.main in process."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:         # argparse
        code = e.code
    except Exception as exc:        # what escapes main() reaches the user as a traceback
        pytest.fail(f"main() raised {type(exc).__name__}: {exc}")
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def python_m(*argv, cwd=None):
    return subprocess.run([sys.executable, "-m", "fastinit", *map(str, argv)],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


def assert_one_line_error(code, out, err, *needles):
    assert code == 2, (code, err)
    assert err.startswith("fastinit: error:"), err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err and "Traceback" not in out
    for n in needles:
        assert n in err, (n, err)


def write_json(path, obj):
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


# ---- 8. errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("extra,needle", [
    (["--preset", "llama-huge"], "unknown preset 'llama-huge'"),
    (["--preset", "llama-tiny", "--dtype", "f8"], "unknown dtype 'f8'"),
    (["--preset", "llama-tiny", "--dtype", "int8"], "unknown dtype"),
    (["--preset", "llama-tiny", "--scheme", "xavier"], "unknown scheme 'xavier'"),
    (["--preset", "llama-tiny", "--max-shard-size", "5XB"], "bad size"),
    (["--preset", "llama-tiny", "--max-shard-size", "abc"], "bad size"),
    (["--preset", "llama-tiny", "--max-shard-size=-1GB"], "bad size"),
    (["--preset", "llama-tiny", "--max-shard-size", "0"], "bad size"),
    (["--preset", "llama-tiny", "--threads", "0"], "--threads"),
    ([], "CONFIG"),                                          # neither
])
def test_bad_command_lines(tmp_path, capsys, extra, needle):
    out = tmp_path / "out"
    code, o, e = run(capsys, "init", "-o", out, *extra)
    assert_one_line_error(code, o, e, needle)
    assert not out.exists()
    assert o == ""


def test_both_config_and_preset(tmp_path, capsys):
    cfg = write_json(tmp_path / "config.json", GOOD_CFG)
    code, o, e = run(capsys, "init", cfg, "--preset", "llama-tiny", "-o", tmp_path / "out")
    assert_one_line_error(code, o, e, "CONFIG", "--preset")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("change,needle", [
    ({"vocab_size": None}, "missing vocab_size"),
    ({"intermediate_size": None, "num_attention_heads": None},
     "missing intermediate_size, num_attention_heads"),
    # a config (it has vocab_size, model_type...) without hidden_size says so
    ({"hidden_size": None}, "missing hidden_size"),
    ({"hidden_size": "64"}, "hidden_size must be a positive integer"),
    ({"hidden_size": 64.0}, "hidden_size"),
    ({"intermediate_size": 96.5}, "intermediate_size"),
    ({"num_hidden_layers": True}, "num_hidden_layers"),
    ({"num_hidden_layers": 0}, "num_hidden_layers"),
    ({"vocab_size": -5}, "vocab_size"),
    ({"num_key_value_heads": "2"}, "num_key_value_heads"),
    ({"head_dim": 0}, "head_dim"),
    ({"hidden_size": 65}, "not a multiple of num_attention_heads"),
    ({"num_key_value_heads": 3}, "not a multiple of num_key_value_heads"),
])
def test_bad_configs(tmp_path, capsys, change, needle):
    cfg = {k: v for k, v in dict(GOOD_CFG, **change).items()
           if not (v is None and k in change)}
    p = write_json(tmp_path / "config.json", cfg)
    out = tmp_path / "out"
    code, o, e = run(capsys, "init", p, "-o", out)
    assert_one_line_error(code, o, e, needle)
    assert not out.exists()
    # --dry-run validates the same way
    code, o, e = run(capsys, "init", p, "-o", out, "--dry-run")
    assert_one_line_error(code, o, e, needle)


def test_good_config_is_accepted(tmp_path, capsys):
    """The base of the bad configs above is itself fine (so each error is its change's)."""
    p = write_json(tmp_path / "config.json", GOOD_CFG)
    code, o, e = run(capsys, "init", p, "-o", tmp_path / "out")
    assert code == 0 and e == ""


@pytest.mark.parametrize("text,needle", [
    ('{"vocab_size": 10,', "not valid JSON"),
    ("", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"foo": 1}', "neither a Hugging Face config"),
    ('{"preset": "nope"}', "unknown preset 'nope'"),
    ('{"preset": "llama-tiny", "overrides": {"pattern": "*"}}', "\"overrides\" must be a list"),
])
def test_bad_files(tmp_path, capsys, text, needle):
    p = write_json(tmp_path / "in.json", text)
    code, o, e = run(capsys, "init", p, "-o", tmp_path / "out")
    assert_one_line_error(code, o, e, needle)


def test_missing_file(tmp_path, capsys):
    code, o, e = run(capsys, "init", tmp_path / "nope.json", "-o", tmp_path / "out")
    assert_one_line_error(code, o, e, "no such file", "nope.json")


def test_unreadable_file(tmp_path, capsys):
    p = tmp_path / "bin.json"
    p.write_bytes(b"\xff\xfe\x00garbage\xff")
    code, o, e = run(capsys, "init", p, "-o", tmp_path / "out")
    assert_one_line_error(code, o, e)


def spec_with(entry):
    return {"tensors": [{"name": "ok", "shape": [4, 4], "init": "normal"}, entry]}


@pytest.mark.parametrize("spec,needle", [
    (spec_with({"name": "x", "shape": [4]}), "needs an \"init\""),
    (spec_with({"name": "x", "shape": [4], "init": "gaussian"}), "unknown init 'gaussian'"),
    (spec_with({"name": "x", "shape": [-1, 4], "init": "zeros"}), "shape"),
    (spec_with({"name": "x", "shape": "4x4", "init": "zeros"}), "shape"),
    (spec_with({"name": "x", "shape": [2.5], "init": "zeros"}), "shape"),
    (spec_with({"name": "x", "shape": [True], "init": "zeros"}), "shape"),
    (spec_with({"name": "x", "init": "zeros"}), "needs a \"name\" and a \"shape\""),
    (spec_with({"shape": [3], "init": "zeros"}), "needs a \"name\" and a \"shape\""),
    (spec_with({"name": 7, "shape": [3], "init": "zeros"}), "name"),
    (spec_with({"name": "ok", "shape": [3], "init": "zeros"}), "'ok'"),       # duplicate
    (spec_with({"name": "x", "shape": [3], "init": "zeros", "dtype": "f8"}), "unknown dtype"),
    (spec_with({"name": "x", "shape": [3], "init": "normal", "params": [1]}), "x"),
    (spec_with({"name": "x", "shape": [3], "init": "normal", "params": "std"}), "x"),
    ({"tensors": []}, "non-empty list"),
    ({"tensors": {"a": 1}}, "non-empty list"),
    (dict(spec_with({"name": "x", "shape": [3], "init": "zeros"}),
          overrides=[{"pattern": "nothing.*", "init": "zeros"}]), "matches no tensor"),
    (dict(spec_with({"name": "x", "shape": [3], "init": "zeros"}),
          overrides=[{"init": "zeros"}]), "pattern"),
    (dict(spec_with({"name": "x", "shape": [3], "init": "zeros"}),
          overrides=[{"pattern": "x"}]), "init"),
    (dict(spec_with({"name": "x", "shape": [3], "init": "zeros"}),
          overrides=[{"pattern": "x", "init": "nope"}]), "unknown init 'nope'"),
    ({"preset": "llama-tiny", "overrides": [{"pattern": "*.q_proj.bias", "init": "zeros"}]},
     "matches no tensor"),
])
def test_bad_specs(tmp_path, capsys, spec, needle):
    p = write_json(tmp_path / "spec.json", spec)
    out = tmp_path / "out"
    code, o, e = run(capsys, "init", p, "-o", out)
    assert_one_line_error(code, o, e, needle)
    assert not out.exists()


@pytest.mark.parametrize("entry,needle", [
    ({"name": "x", "shape": [4, 4], "init": "normal", "std": "wide"}, "x"),
    ({"name": "x", "shape": [4, 4], "init": "normal", "sigma": 1.0}, "x"),
    ({"name": "x", "shape": [4, 4], "init": "normal", "std": -1.0}, "std"),
    ({"name": "x", "shape": [4, 4], "init": "uniform", "a": 1.0, "b": 0.0}, "x"),
    ({"name": "x", "shape": [4, 4], "init": "trunc_normal", "a": 2.0, "b": -2.0}, "x"),
    ({"name": "x", "shape": [64], "init": "orthogonal"}, "x"),
    ({"name": "x", "shape": [64], "init": "kaiming_uniform"}, "x"),
])
def test_bad_init_parameters(tmp_path, capsys, entry, needle):
    """Parameters the init function rejects are a bad spec: exit 2 and one line, like every
    other spec error, and no partial output."""
    p = write_json(tmp_path / "spec.json", spec_with(entry))
    out = tmp_path / "out"
    code, o, e = run(capsys, "init", p, "-o", out)
    assert_one_line_error(code, o, e, needle)
    assert not out.exists() or os.listdir(out) == []


def test_bad_init_parameters_in_a_subprocess(tmp_path):
    p = write_json(tmp_path / "spec.json",
                   spec_with({"name": "x", "shape": [64], "init": "orthogonal"}))
    r = python_m("init", p, "-o", tmp_path / "out")
    assert "Traceback" not in r.stderr, r.stderr[-300:]
    assert r.returncode == 2
    assert r.stderr.startswith("fastinit: error:") and r.stderr.count("\n") == 1


def test_shard_size_needs_a_directory(tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    code, o, e = run(capsys, "init", "--preset", "llama-tiny", "-o", out,
                     "--max-shard-size", "100KB")
    assert_one_line_error(code, o, e, "directory")
    assert not out.exists()
    # a limit above the size is fine for a single file
    code, o, e = run(capsys, "init", "--preset", "llama-tiny", "-o", out,
                     "--max-shard-size", "1GB")
    assert code == 0 and out.exists()


def test_output_directory_is_a_file(tmp_path, capsys):
    out = tmp_path / "out"
    out.write_text("not a directory")
    code, o, e = run(capsys, "init", "--preset", "llama-tiny", "-o", out)
    assert_one_line_error(code, o, e, "not a directory")
    assert out.read_text() == "not a directory"


def test_argparse_errors_exit_2(tmp_path, capsys):
    code, _, e = run(capsys, "init", "--preset", "llama-tiny")            # no -o
    assert code == 2 and "-o" in e
    code, _, e = run(capsys, "init", "--preset", "llama-tiny", "-o", tmp_path / "x",
                     "--seed", "abc")
    assert code == 2 and "--seed" in e
    code, _, _ = run(capsys)                                              # no command
    assert code == 2


def test_errors_in_a_subprocess(tmp_path):
    for argv, needle in ((["--preset", "nope"], "unknown preset"),
                         ([tmp_path / "missing.json"], "no such file")):
        r = python_m("init", *argv, "-o", tmp_path / "out")
        assert r.returncode == 2, r.stderr
        assert r.stderr.startswith("fastinit: error:") and r.stderr.count("\n") == 1
        assert needle in r.stderr and "Traceback" not in r.stderr
        assert r.stdout == ""
    assert not (tmp_path / "out").exists()


# ---- 7. --dry-run ------------------------------------------------------------------------

@pytest.mark.parametrize("shard", [None, "100KB"])
def test_dry_run(tmp_path, capsys, shard):
    out = tmp_path / "out"
    argv = ["init", "--preset", "llama-tiny", "-o", out, "--dtype", "f32", "--dry-run"]
    if shard:
        argv += ["--max-shard-size", shard]
    code, o, e = run(capsys, *argv)
    assert code == 0 and e == ""
    lines = o.splitlines()
    for name in TINY_NAMES:
        assert sum(line.split()[0] == name for line in lines if line.strip()) == 1, name
    assert f"{LLAMA_TINY_PARAMS * 4:,}" in o                # total bytes
    assert f"{LLAMA_TINY_PARAMS:,}" in o                    # parameters
    assert "176x64" in o and "64x176" in o                  # shapes
    assert not out.exists()
    if shard:
        assert "files" in o


def test_dry_run_into_an_existing_directory_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    code, o, _ = run(capsys, "init", "--preset", "qwen2-tiny", "-o", out, "--dry-run")
    assert code == 0 and "model.layers.1.self_attn.v_proj.bias" in o
    assert "lm_head.weight" not in o
    assert os.listdir(out) == []


# ---- success: the summary table ------------------------------------------------------------

def test_success_summary(tmp_path, capsys):
    out = tmp_path / "out"
    code, o, e = run(capsys, "init", "--preset", "llama-tiny", "-o", out, "--dtype", "f16",
                     "--threads", 2)
    assert code == 0 and e == ""
    lines = o.splitlines()
    head = lines[0].split()
    for h in ("tensors", "parameters", "bytes", "seconds", "GB/s"):
        assert h in head, h
    row = dict(zip(head, lines[1].split()))
    assert row["tensors"] == str(len(TINY_NAMES))
    assert row["parameters"] == f"{LLAMA_TINY_PARAMS:,}"
    assert row["bytes"] == f"{LLAMA_TINY_PARAMS * 2:,}"
    assert float(row["seconds"]) >= 0 and float(row["GB/s"]) >= 0
    assert sorted(os.listdir(out)) == ["config.json", "model.safetensors"]
    assert os.path.getsize(out / "model.safetensors") > LLAMA_TINY_PARAMS * 2


def test_python_m_fastinit_matches_in_process(tmp_path, capsys):
    r = python_m("init", "--preset", "qwen2-tiny", "-o", tmp_path / "sub", "--seed", 77,
                 "--threads", 1)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""       # no progress bar when stderr is not a terminal
    assert r.stdout.splitlines()[0].split()[:5] == \
        ["tensors", "parameters", "bytes", "seconds", "GB/s"]
    code, _, _ = run(capsys, "init", "--preset", "qwen2-tiny", "-o", tmp_path / "inproc",
                     "--seed", 77, "--threads", 2)
    assert code == 0
    for name in ("model.safetensors", "config.json"):
        assert sha(tmp_path / "sub" / name) == sha(tmp_path / "inproc" / name)


def test_python_m_thread_counts_give_identical_files(tmp_path):
    spec = write_json(tmp_path / "spec.json", {"tensors": [
        {"name": "w", "shape": [2048, 1024], "init": "normal", "std": 0.02},
        {"name": "t", "shape": [512, 512], "init": "trunc_normal", "std": 1.0}]})
    digests = set()
    for threads in (1, 2):
        out = tmp_path / f"t{threads}.safetensors"
        r = python_m("init", spec, "-o", out, "--threads", threads, "--seed", 3)
        assert r.returncode == 0, r.stderr
        digests.add(sha(out))
    assert len(digests) == 1


def test_python_m_without_arguments_is_a_usage_error():
    r = python_m()
    assert r.returncode == 2 and "usage" in r.stderr.lower()


def test_threads_flag_sets_the_engine(tmp_path, capsys):
    code, o, _ = run(capsys, "init", "--preset", "llama-tiny", "-o", tmp_path / "x",
                     "--threads", 1)
    assert code == 0 and fastinit.get_num_threads() == 1
    assert o.splitlines()[1].split()[-1] == "1"


# ---- issue 19's defects ---------------------------------------------------------------------

@pytest.mark.parametrize("seed", ["-1", str(2 ** 64), "-5"])
def test_bad_seed_leaves_nothing(tmp_path, capsys, seed):
    out = tmp_path / "new" / "dir"
    code, o, e = run(capsys, "init", "--preset", "llama-tiny", "-o", out, f"--seed={seed}")
    assert_one_line_error(code, o, e, "seed must be an integer in [0, 2**64)")
    assert not (tmp_path / "new").exists()


def test_largest_seed_is_accepted(tmp_path, capsys):
    code, _, e = run(capsys, "init", "--preset", "llama-tiny", "-o", tmp_path / "o",
                     f"--seed={2 ** 64 - 1}")
    assert code == 0, e


@pytest.mark.parametrize("key", ["dtype", "torch_dtype", None])
@pytest.mark.parametrize("flag,name", [("f32", "float32"), ("f16", "float16"), (None, "bfloat16")])
def test_written_config_says_the_tensors_dtype(tmp_path, capsys, key, flag, name):
    cfg = dict(GOOD_CFG, **({key: "bfloat16"} if key else {}))
    p = write_json(tmp_path / "config.json", cfg)
    out = tmp_path / "out"
    code, _, e = run(capsys, "init", p, "-o", out, *(["--dtype", flag] if flag else []))
    assert code == 0, e
    written = json.loads((out / "config.json").read_text())
    assert written[key or "torch_dtype"] == name
    assert {k: v for k, v in written.items() if k not in ("dtype", "torch_dtype")} == \
        {k: v for k, v in cfg.items() if k not in ("dtype", "torch_dtype")}
    header = json.loads(open(out / "model.safetensors", "rb").read()[8:][:4096]
                        .split(b"}}")[0] + b"}}")
    st = {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}[name]
    assert {v["dtype"] for k, v in header.items() if k != "__metadata__"} == {st}


def test_written_config_loads_in_transformers_as_the_tensors_dtype(tmp_path, capsys):
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    p = write_json(tmp_path / "config.json", dict(GOOD_CFG, dtype="bfloat16"))
    out = tmp_path / "out"
    assert run(capsys, "init", p, "-o", out, "--dtype", "f32")[0] == 0
    model = transformers.AutoModelForCausalLM.from_pretrained(out)
    assert {q.dtype for q in model.parameters()} == {torch.float32}


def test_version(capsys):
    code, o, e = run(capsys, "--version")
    assert code == 0 and o.startswith("fastinit ") and len(o.split()) >= 2 and e == ""


def test_orthogonal_with_zero_rows(tmp_path, capsys):
    p = write_json(tmp_path / "spec.json", {"tensors": [
        {"name": "w", "shape": [0, 3], "init": "orthogonal"},
        {"name": "v", "shape": [3, 0], "init": "orthogonal"}]})
    code, o, e = run(capsys, "init", p, "-o", tmp_path / "o.safetensors")
    assert code == 0 and e == "" and "Traceback" not in o


def test_unwritable_output_names_the_output(tmp_path, capsys, monkeypatch):
    """The temporary file is created beside the output: its failure names the output."""
    import tempfile

    def refuse(prefix, suffix, dir):
        raise PermissionError(13, "Permission denied", os.path.join(dir, prefix + "x" + suffix))
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    out = tmp_path / "model.safetensors"
    code, o, e = run(capsys, "init", "--preset", "llama-tiny", "-o", out)
    assert code == 1 and e == f"fastinit: error: Permission denied: {out}\n", e
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs permissions that apply (root bypasses them)")
def test_read_only_directory(tmp_path, capsys):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o555)
    try:
        code, o, e = run(capsys, "init", "--preset", "llama-tiny", "-o", d / "m.safetensors")
    finally:
        d.chmod(0o755)
    assert code == 1 and str(d / "m.safetensors") in e and ".tmp" not in e


def test_ctrl_c_while_importing(tmp_path):
    """A KeyboardInterrupt while the command imports fastinit (NumPy, the compiled core): one
    line and exit code 130, no traceback. Raised deterministically by an import hook."""
    code = f"""
import sys
class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == "numpy":
            raise KeyboardInterrupt
sys.meta_path.insert(0, Interrupt())
import fastinit_cli
sys.exit(fastinit_cli.main(["init", "--preset", "llama-tiny", "-o", {str(tmp_path / 'o')!r}]))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 130, r.stderr
    assert r.stderr == "fastinit: interrupted; nothing was written\n"
    assert not (tmp_path / "o").exists()
