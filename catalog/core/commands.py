"""Every runtime command the product prints, for an estimated configuration (pure strings).

Each command runs what was estimated: the same quantization, context, KV
cache type, flash attention and GPU layers. Syntax follows the runtimes as of
2026 (see ../shared/reference/runtimes-and-metadata.md): `llama-server` and
`llama-cli` (not the long-gone `./main`) with `-hf USER/REPO:QUANT`; Ollama
library tags (base models on their `-text` tags) or `hf.co/USER/REPO:QUANT`;
LM Studio's `lms get USER/REPO@QUANT` and `lms load`; for plans over several
machines, llama.cpp's `ggml-rpc-server` and `llama-server --rpc`, and vLLM on Ray.
"""


import os
import shlex

from catalog.core.ggml import split_parts, split_stem
from catalog.core.memory import RuntimeOptions
from catalog.core.model import ModelSpec, listing_repo, repo_for
from catalog.core.options import DEFAULT_BATCH, DEFAULT_UBATCH, LLAMA_SERVER_SLOTS
from catalog.core.record import Record
from catalog.core.results import Commands


class Target(Record):
    """What to run: where the weights come from."""

    ollama_tag: str | None  # library:tag when Ollama's library serves this quantization
    gguf_repo: str | None  # a Hugging Face repo holding the GGUF
    gguf_file: str | None  # the file name in that repo, when known
    local_path: str | None  # a local .gguf
    hf_repo: str | None  # the original (safetensors) repo, to convert from
    lms_key: str | None = None  # LM Studio's model key after `lms get`
    source_dir: str | None = None  # a local folder holding config.json and safetensors, to convert from
    file_source: str | None = None  # where the GGUF repo's file list was read (an address a person can open)
    vision: str = ""  # a vision model's projector: "load" it (the runtimes' default) or "skip" it (--no-vision)


def ollama(t: Target, quant: str, opts: RuntimeOptions) -> str:
    """`ollama run` alone: the server settings the estimate assumed (`ollama_server_env`) belong to the Ollama
    service that is already running, not to a second `ollama serve` started beside it."""
    if t.ollama_tag:
        model = t.ollama_tag
    elif t.gguf_repo and t.gguf_file and _parts(t):
        return _ollama_from_parts(t.gguf_repo, t.gguf_file, opts)
    elif t.gguf_repo:
        model = f"hf.co/{t.gguf_repo}:{quant}"
    elif t.local_path:
        return (f"printf 'FROM {t.local_path}\\nPARAMETER num_ctx {opts.n_ctx}\\n' > Modelfile"
                f" && ollama create local-model -f Modelfile && ollama run local-model")
    else:
        return ""
    return f"ollama run {model}"


def _parts(t: Target) -> bool:
    """Whether the GGUF file is split into parts (NAME-00001-of-0000N.gguf)."""
    parts = split_parts(t.gguf_file or "")
    return parts is not None and parts[0] == 1


def _ollama_from_parts(repo: str, first: str, opts: RuntimeOptions) -> str:
    """Ollama cannot pull a GGUF split into parts (ollama/ollama#5245): download the parts, join them with
    llama.cpp's llama-gguf-split --merge, and create the model from the one file."""
    pattern = split_stem(first) + "-*-of-*.gguf"
    merged = os.path.basename(split_stem(first)) + ".gguf"
    return (f"hf download {repo} --include {shlex.quote(pattern)} --local-dir model"
            f" && llama-gguf-split --merge {shlex.quote('model/' + first)} {shlex.quote(merged)}"
            f" && printf 'FROM ./{merged}\\nPARAMETER num_ctx {opts.n_ctx}\\n' > Modelfile"
            f" && ollama create local-model -f Modelfile && ollama run local-model")


def ollama_server_env(t: Target, opts: RuntimeOptions, default_ctx: int) -> str:
    """The Ollama server settings the estimate assumed where they differ from Ollama's defaults, as
    `NAME=value` pairs for the service's environment (docs/faq.mdx, "How do I configure Ollama server?":
    `launchctl setenv` on macOS, `systemctl edit ollama.service` on Linux, the user's environment variables
    on Windows, then restart Ollama). Empty when Ollama's defaults are what was estimated."""
    if not (t.ollama_tag or t.gguf_repo or t.local_path):
        return ""
    env = []
    modelfile = not t.ollama_tag and (not t.gguf_repo or _parts(t))  # a Modelfile pins num_ctx itself
    if opts.n_ctx != default_ctx and not modelfile:
        env.append(f"OLLAMA_CONTEXT_LENGTH={opts.n_ctx}")
    # Ollama turns flash attention on by itself where supported; a quantized cache needs it
    # (a check refuses a quantized cache without flash attention, as llama.cpp does)
    quantized_kv = opts.type_k != "F16" or opts.type_v != "F16"
    if not opts.flash_attn:
        env.append("OLLAMA_FLASH_ATTENTION=0")
    elif quantized_kv:
        env.append("OLLAMA_FLASH_ATTENTION=1")
    if quantized_kv:
        env.append(f"OLLAMA_KV_CACHE_TYPE={opts.type_v.lower()}")
    return " ".join(env)


def ollama_session(t: Target, quant: str, opts: RuntimeOptions, default_ctx: int) -> str:
    """The same context set from inside a running Ollama (no server restart): `/set parameter num_ctx`.
    The KV cache type and flash attention are server settings only, so a quantized cache still needs
    `ollama_server_env` set on the service."""
    if opts.n_ctx == default_ctx or not (t.ollama_tag or t.gguf_repo) or (not t.ollama_tag and _parts(t)):
        return ""
    model = t.ollama_tag or f"hf.co/{t.gguf_repo}:{quant}"
    return f"ollama run {model}, then: /set parameter num_ctx {opts.n_ctx}"


def source_args(t: Target, quant: str) -> list[str]:
    """Where llama.cpp reads the weights: `-m FILE` for a local GGUF, `-hf REPO:QUANT`, or `-m` the file the
    conversion makes; empty when there is nothing to run."""
    if t.local_path:
        return ["-m", t.local_path]
    if t.gguf_repo:
        return ["-hf", f"{t.gguf_repo}:{quant}"]
    if t.hf_repo or t.source_dir:
        stem = (t.hf_repo or t.source_dir or "model").rstrip("/").split("/")[-1]
        return ["-m", f"{stem}-{quant}.gguf"]
    return []


def llama_cpp(t: Target, quant: str, opts: RuntimeOptions, gpu_layers: int, total_layers: int,
              binary: str = "llama-server", cpu_moe_layers: int = 0, split: tuple[int, ...] = ()) -> str:
    """`llama-server` (or `llama-cli`) pinned to the estimate: -c, -ngl, -fa, -ctk/-ctv, -b/-ub, and with
    several GPUs `-ts` from `split`, the layers each GPU holds (the output layer counted on the last)."""
    src = source_args(t, quant)
    if not src:
        return ""
    args = [binary, *src, "-c", str(opts.n_ctx), "-ngl", "all" if gpu_layers >= total_layers else str(gpu_layers),
            "-fa", "on" if opts.flash_attn else "off"]
    if opts.type_k != "F16":
        args += ["-ctk", opts.type_k.lower()]
    if opts.type_v != "F16":
        args += ["-ctv", opts.type_v.lower()]
    if opts.n_batch != DEFAULT_BATCH:  # llama.cpp's own defaults need no flag
        args += ["-b", str(opts.n_batch)]
    if opts.n_ubatch != DEFAULT_UBATCH:
        args += ["-ub", str(opts.n_ubatch)]
    if cpu_moe_layers:
        args += ["--n-cpu-moe", str(cpu_moe_layers)]
    if binary == "llama-server":
        args += slots_args(opts.n_seq)
    if len(split) > 1:
        # each GPU's layer count, as estimated: llama.cpp's default split follows the free memory at start,
        # which moves with whatever else runs; integer layer counts as -ts reproduce the estimate exactly
        args += ["-ts", ",".join(str(n) for n in split)]
    # a vision model: `-hf` fetches and loads the repo's mmproj unless told not to (common/arg.cpp: "mmproj is
    # also downloaded automatically if available. to disable, add --no-mmproj"); a conversion makes it too
    converted = not t.gguf_repo and not t.local_path and bool(t.hf_repo or t.source_dir)
    if t.vision == "skip" and t.gguf_repo:
        args.append("--no-mmproj")
    if t.vision == "load" and converted:
        args += ["--mmproj", "mmproj-F16.gguf"]
    cmd = shlex.join(args)
    if converted:
        out = src[1]
        if t.hf_repo:
            fetch, folder = f"hf download {t.hf_repo} --local-dir model && ", "model"
        else:
            fetch, folder = "", shlex.quote(t.source_dir or ".")
        prep = (f"{fetch}python convert_hf_to_gguf.py {folder} --outtype bf16"
                f" --outfile model-BF16.gguf && llama-quantize model-BF16.gguf {out} {quant}")
        if t.vision == "load":
            prep += f" && python convert_hf_to_gguf.py {folder} --mmproj --outtype f16 --outfile mmproj-F16.gguf"
        return f"{prep} && {cmd}"
    return cmd


def lm_studio(t: Target, quant: str, opts: RuntimeOptions, gpu_layers: int, total_layers: int) -> str:
    """`lms get` then `lms load` with the estimate's context and GPU offload share. A Hugging Face repo is
    named by its URL: `lms get` reads a bare owner/name as an LM Studio Hub artifact (lmstudio-ai/lms
    src/subcommands/get.ts, tryParseHuggingFaceUrl and tryParseArtifactIdentifier), and `@QUANT` picks
    the quantization (huggingface/hub-docs docs/hub/lmstudio.md). `lms load` matches its argument fuzzily
    against the downloaded models' keys (src/subcommands/load.ts: `fuzzy.filter`, case-insensitive, letters in
    order), and LM Studio keys a Hugging Face download `publisher/name` or `name`, the repo's name in lower
    case without -GGUF (lmstudio.ai/docs/cli/ls): the lower-cased repo name matches either form."""
    if t.gguf_repo:
        key = t.lms_key or t.gguf_repo.split("/")[-1].lower().removesuffix("-gguf")
        get = f"lms get https://huggingface.co/{t.gguf_repo}@{quant} -y"
    elif t.local_path:
        key = t.local_path.rsplit("/", 1)[-1].lower().removesuffix(".gguf")
        get = f"lms import {shlex.quote(t.local_path)} -y"
    else:
        return ""
    gpu = "max" if gpu_layers >= total_layers else ("off" if gpu_layers == 0 else f"{gpu_layers / total_layers:.2f}")
    return f"{get} && lms load {key} --context-length {opts.n_ctx} --gpu {gpu}"


def all_commands(t: Target, quant: str, opts: RuntimeOptions, gpu_layers: int, total_layers: int,
                 ollama_default_ctx: int, cpu_moe_layers: int = 0, split: tuple[int, ...] = ()) -> Commands:
    """The three runtimes' commands, plus the llama-cli form."""
    note = ""
    if not (t.gguf_repo or t.local_path):
        note = f"no published GGUF file of {quant} is known for this model" + (
            ": the llama.cpp command makes it from the original weights (convert_hf_to_gguf.py, then "
            "llama-quantize)" if t.hf_repo or t.source_dir else "") + (
            f"; Ollama's library serves {quant} as {t.ollama_tag}" if t.ollama_tag else "")
    if t.vision == "skip" and (t.ollama_tag or t.gguf_repo or t.local_path):
        note = (note + "; " if note else "") + ("llama-server leaves the vision projector out (text only, as "
                                                "estimated); Ollama and LM Studio load it anyway, on top of these "
                                                "figures")
    return Commands(
        note=note,
        file_source=(t.file_source or "") if t.gguf_repo else "",
        ollama=ollama(t, quant, opts),
        ollama_session=ollama_session(t, quant, opts, ollama_default_ctx),
        ollama_server_env=ollama_server_env(t, opts, ollama_default_ctx),
        llama_cpp=llama_cpp(t, quant, opts, gpu_layers, total_layers, "llama-server", cpu_moe_layers, split),
        llama_cpp_cli=llama_cpp(t, quant, opts, gpu_layers, total_layers, "llama-cli", cpu_moe_layers, split),
        lm_studio=lm_studio(t, quant, opts, gpu_layers, total_layers),
    )


def download_target(spec: ModelSpec, quant: str) -> Target:
    """Where `quant` of this model is pulled from: its Ollama tag, GGUF repo and file, a local path."""
    tag = None
    ol = spec.ollama
    for t, q in ol.tags:
        if q == quant and t not in ("latest",):
            # prefer the explicit tag (8b-instruct-q4_K_M) over the bare size alias (8b)
            if tag is None or len(t) > len(tag.split(":", 1)[1]):
                tag = f"{ol.library}:{t}"
    # only a repo whose file list names this quantization: a command never guesses that a file exists
    r = repo_for(spec, quant)
    if r is None or r.listed(quant) is None:  # a repo with no file list first: the one that lists it
        r = listing_repo(spec, quant)
    listed = r.listed(quant) if r else None
    repo = r.repo if r else None
    fname = listed.file if listed else None
    folder = os.path.dirname(spec.local_path) if spec.local_path and not spec.tensors else None
    return Target(tag, repo, fname, spec.local_path if spec.tensors else None, spec.hf_repo, None, folder,
                  (listed.source or r.source) if listed and r else None)


def weights_args(spec: ModelSpec, quant: str) -> str:
    """The weights' arguments of the llama.cpp command for this quant (`-hf REPO:QUANT`, `-m FILE`), as
    `check` prints them; a model with nothing to download names the file a conversion makes."""
    return shlex.join(source_args(download_target(spec, quant), quant) or ["-m", f"{spec.id}-{quant}.gguf"])


# --- several machines ------------------------------------------------------------------------------------------

RPC_PORT = 50052  # ggml-rpc-server's default
RPC_SERVER = "ggml-rpc-server"  # `rpc-server` until llama.cpp renamed the binary (mid 2026)
RAY_PORT = 6379


def rpc_worker(host: str) -> str:
    """What a worker host runs: one ggml-rpc-server serving all its GPUs, with its local cache (-c)."""
    return f"# on {host}: {RPC_SERVER} --host 0.0.0.0 --port {RPC_PORT} -c"


def slots_args(n_seq: int) -> list[str]:
    """llama-server's slots as estimated: nothing for its own default (4 over one unified cache), else `-np N`
    (over one unified cache, `-kvu`, where N > 1): one sequence under Ollama's, LM Studio's and the plan's
    figures, since the default four would grow a sliding-window or recurrent cache past the estimate."""
    if n_seq == LLAMA_SERVER_SLOTS:
        return []
    return ["-np", str(n_seq)] + (["-kvu"] if n_seq > 1 else [])


def rpc_head(host: str, weights: str, ctx: int, gpu_layers: str, workers: list[str], split: tuple[int, ...]) -> str:
    """The head's llama-server over the workers' RPC servers, each device's layer count pinned with -ts; one
    sequence, as the plan estimates it (slots_args)."""
    return (f"# on {host}: llama-server {weights} -c {ctx} -ngl {gpu_layers} -fa on {shlex.join(slots_args(1))}"
            + (f" --rpc {','.join(f'{w}:{RPC_PORT}' for w in workers)}" if workers else "")
            + (f" -ts {','.join(str(n) for n in split)}" if len(split) > 1 else ""))


def tensor_split_head(host: str, weights: str, ctx: int, ts: tuple[float, ...]) -> str:
    """llama-server with every layer cut across one host's GPUs (-sm tensor), uneven cards in proportion."""
    return f"# on {host}: llama-server {weights} -c {ctx} -ngl all -fa on {shlex.join(slots_args(1))} -sm tensor" + (
        f" -ts {','.join(f'{x:g}' for x in ts)}" if ts else "")


def ray_cluster(hosts: list[str]) -> list[str]:
    """Ray's head on the first host and a worker on each other (one host needs no cluster)."""
    if len(hosts) < 2:
        return []
    return ([f"# on {hosts[0]}: ray start --head --port={RAY_PORT}"]
            + [f"# on {h}: ray start --address={hosts[0]}:{RAY_PORT}" for h in hosts[1:]])


def vllm_serve(host: str, model: str, tp: int, pp: int, ctx: int) -> str:
    """`vllm serve` with tensor parallel within a host and pipeline parallel across hosts."""
    return (f"# on {host}: vllm serve {model} --tensor-parallel-size {tp} "
            f"--pipeline-parallel-size {pp} --max-model-len {ctx}")
