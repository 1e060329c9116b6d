"""llama.cpp over several GPUs and machines, layer split: one host, or the head plus `ggml-rpc-server` workers
(pure).

Every GPU of every host is one device, in llama.cpp's order (the RPC servers' GPUs first, then the
head's). Whole layers per device, starting from llama.cpp's default proportions and rebalanced where a
device would run out, pinned with `-ts` as layer counts; each device pays its own CUDA context and
compute buffer, the head keeps the token embedding and host buffers in its RAM. Each decoded token
crosses the network twice per worker (the link model is checked against real llama.cpp over loopback
RPC: bench/rpc_link.py).
"""


from catalog.core import commands
from catalog.core.fit import fit_layers, gpu_budgets, split_layers
from catalog.core.ggml import Tensor, block_index
from catalog.core.memory import (
    CTX_PAD,
    MemoryEstimate,
    RuntimeOptions,
    WeightLayout,
    device_of_layers,
    estimate,
    kv_cache_by_layer,
    pad,
)
from catalog.core.model import ModelSpec, file_bytes, weight_table
from catalog.core.options import DEFAULT_UBATCH
from catalog.core.plan_types import DevicePlan, EnginePlan, Host, HostPlan, Link, overfull
from catalog.core.speed import DEFAULT_RAM_BANDWIDTH, layer_read_bytes, per_second, pipeline_seconds, ram_read_seconds
from catalog.errors import UsageError
from hardware import GPU

# llama.cpp's device names by backend: ggml-cuda (CUDA, or ROCm when built with HIP), ggml-metal (MTL)
DEVICE_PREFIX = {"nvidia": "CUDA", "amd": "ROCm", "apple": "MTL"}
UBATCH_TOKENS = DEFAULT_UBATCH  # a prompt's micro-batch, for the link time the notes state


def local_device_name(gpu: GPU, index: int) -> str:
    """The name llama.cpp gives the head's `index`-th GPU (`--list-devices`)."""
    return f"{DEVICE_PREFIX.get(gpu.vendor, 'GPU')}{index}"


def rpc_order(hosts: list[Host]) -> list[tuple[Host, GPU]]:
    """The devices in llama.cpp's order: the RPC servers' first, in `--rpc` order and each server's GPUs in
    its own order, then the head's local GPUs (src/llama.cpp llama_prepare_model_devices, "add RPC servers at
    the front of the list to minimize network transfers", PR #9296). `-ts` and the layer split follow it,
    so the head's GPUs take the last layers and the output layer and the logits never cross the network."""
    return [(h, g) for h in (*hosts[1:], hosts[0]) for g in h.gpus]


def rpc_link_seconds(n_embd: int, n_ctx: int, workers: int, rpc_devices: int, link_gbps: float, link_ms: float,
                     n_tokens: int = 1, logits: int = 0) -> float:
    """Network time of one llama.cpp RPC graph evaluation of `n_tokens` tokens (1: a decoded token).

    The head computes the input layer on its CPU and its own GPUs hold the last layers, so the hidden state
    leaves the head once, comes back once, and between two workers passes through the head (the RPC
    servers never talk to each other: a copy across servers is a get_tensor then a set_tensor by the head,
    ggml-rpc.cpp ggml_backend_rpc_buffer_cpy_tensor). That is 2 legs a worker, each paying the latency and
    an f32 hidden state per token. Every RPC device also receives the graph's inputs from the head: the
    attention mask over the cache cells in use (up to the whole context) per token. Sends are
    asynchronous and graphs are reused, so nothing else waits on the network. The mask is f16 with flash
    attention (llama-graph.cpp build_attn_inp_kq_mask), as the plans run it.
    A head without a GPU (`logits`: the vocabulary size) gets the last worker's f32 logits back instead of
    a hidden state (llama.cpp reads the logits of the last token only while decoding).
    """
    if workers <= 0:
        return 0.0
    legs = 2 * workers
    hidden = n_tokens * n_embd * 4
    back = logits * 4 if logits else hidden  # only the last token's logits are read
    mask = rpc_devices * n_tokens * n_ctx * 2
    return legs * link_ms / 1e3 + ((legs - 1) * hidden + back + mask) / (link_gbps * 1e9 / 8)


def _fit(spec: ModelSpec, tensors: list[Tensor], lay: WeightLayout, opts: RuntimeOptions, budgets: tuple[int, ...],
         head_ram: int) -> tuple[tuple[int, ...], int, MemoryEstimate]:
    """(layers per device, -ngl, the estimate): every layer on the GPUs if they hold it; too big for them,
    llama.cpp's partial offload keeps the first layers on the head's CPU, in its RAM (-ngl N); they run
    before the RPC devices, so the network legs stay the same."""
    a = spec.arch
    counts = split_layers(a, tensors, opts, budgets, lay=lay)
    est = estimate(a, tensors, opts, None, True, lay=lay, gpu_shares=counts)
    ngl = a.n_layer + 1
    if not est.fits(budgets):
        n = fit_layers(a, tensors, opts, budgets, lay=lay)
        part = estimate(a, tensors, opts, n, True, lay=lay, gpu_shares=budgets) if n else None
        if part is not None and part.cpu_bytes <= head_ram:
            counts, ngl = part.per_gpu_layers, n
            est = estimate(a, tensors, opts, n, True, lay=lay, gpu_shares=counts)
    return counts, ngl, est


def _largest_tensors(spec: ModelSpec, tensors: list[Tensor], lay: WeightLayout, where: tuple[int, ...],
                     devices: list[tuple[Host, GPU]]) -> dict[str, int]:
    """Each host's largest tensor: a worker's ggml-rpc-server receives each tensor whole into its RAM before
    copying it to the GPU (ggml-rpc.cpp, RPC_CMD_SET_TENSOR: recv_msg into one buffer)."""
    n_layer = spec.arch.n_layer
    largest: dict[str, int] = {}
    for tensor in tensors:
        il = block_index(tensor.name)
        # the output layer's device also gets a tied embedding's copy (llama.cpp duplicates it there)
        is_out = tensor.name.startswith("output") or (tensor.name == "token_embd.weight" and lay.tied_copy_bytes > 0)
        on = where[il] if 0 <= il < n_layer else (where[-1] if is_out else -1)
        if on >= 0:
            owner = devices[on][0].name
            largest[owner] = max(largest.get(owner, 0), tensor.nbytes)
    return largest


def _decode_seconds(spec: ModelSpec, lay: WeightLayout, opts: RuntimeOptions, cpu_layers: int,
                    dev: tuple[DevicePlan, ...], devices: list[tuple[Host, GPU]]) -> float | None:
    """Each device reads its layers once per token, one device after another (the head's CPU layers first);
    None when a GPU's bandwidth is unknown."""
    a = spec.arch
    kv_layers = kv_cache_by_layer(a, opts)
    reads = [layer_read_bytes(a, lay, il, kv_layers[il]) for il in range(a.n_layer)] + [lay.output_bytes]
    starts = [cpu_layers]
    for d in dev:
        starts.append(starts[-1] + d.layers)
    gpus = pipeline_seconds((sum(reads[lo:hi]), g.bandwidth_bytes_per_s)
                            for lo, hi, (_, g) in zip(starts[:-1], starts[1:], devices, strict=True))
    return None if gpus is None else ram_read_seconds(sum(reads[:cpu_layers])) + gpus


def rpc_plan(spec: ModelSpec, quant: str, ctx: int, hosts: list[Host], link_gbps: float = 1.0,
             link_ms: float = 0.5, kv: str = "F16") -> EnginePlan:
    """llama.cpp RPC across `hosts` (the first is the head, the others run `ggml-rpc-server`); one host alone
    is llama.cpp's layer split over its GPUs."""
    devices = rpc_order(hosts)
    if not devices:
        raise UsageError("no GPU in any host")
    a, head = spec.arch, hosts[0]
    budgets = gpu_budgets(tuple(g for _, g in devices), True)
    tensors, lay = weight_table(spec, quant)
    opts = RuntimeOptions(ctx, kv, kv)
    counts, ngl, est = _fit(spec, tensors, lay, opts, budgets, head.ram_bytes)
    cpu_layers = a.n_layer + 1 - ngl
    names = [f"RPC{i}" for i in range(len(devices) - len(head.gpus))] + [
        local_device_name(g, i) for i, g in enumerate(head.gpus)]
    dev = tuple(DevicePlan(h.name, g.name, n, b, bud, name, *parts) for (h, g), name, n, b, bud, parts in zip(
        devices, names, est.per_gpu_layers, est.per_gpu_bytes, budgets, est.per_gpu_parts, strict=True))
    largest = _largest_tensors(spec, tensors, lay, device_of_layers(a.n_layer, ngl, counts), devices)
    host_rows = tuple(HostPlan(h.name, sum(d.bytes for d in dev if d.host == h.name),
                               sum(d.budget_bytes for d in dev if d.host == h.name),
                               est.cpu_bytes if i == 0 else largest.get(h.name, 0), h.ram_bytes,
                               sum(d.layers for d in dev if d.host == h.name)) for i, h in enumerate(hosts))
    fits = est.fits(budgets) and all(r.ram_needed_bytes <= r.ram_bytes for r in host_rows)
    workers = [h for h in hosts[1:] if h.gpus]
    ctx_cells = pad(ctx, CTX_PAD)
    logits = 0 if head.gpus else a.n_vocab  # a GPU-less head gets the logits back from the last worker
    n_rpc = sum(len(h.gpus) for h in workers)
    t_link = rpc_link_seconds(a.n_embd, ctx_cells, len(workers), n_rpc, link_gbps, link_ms, logits=logits)
    ub_link = rpc_link_seconds(a.n_embd, ctx_cells, len(workers), n_rpc, link_gbps, link_ms, n_tokens=UBATCH_TOKENS,
                               logits=logits)
    t = _decode_seconds(spec, lay, opts, cpu_layers, dev, devices)
    tps = per_second(t + t_link) if t is not None and fits else None
    cmds = [commands.rpc_worker(h.name) for h in workers]
    cmds.append(commands.rpc_head(head.name, commands.weights_args(spec, quant), ctx,
                                  "all" if not cpu_layers else str(ngl), [h.name for h in workers], counts))
    notes = _notes(spec, quant, hosts, workers, dev, lay, est, ngl, (link_gbps, link_ms, t_link, ub_link, ctx_cells))
    if not fits:
        notes.append(overfull(dev, with_host=True))
    return EnginePlan("llama.cpp RPC" if workers else "llama.cpp layer split", fits, dev, host_rows, tps,
                      Link(link_gbps, link_ms, len(workers), round(t_link, 6), round(ub_link, 6)),
                      tuple(cmds), tuple(notes), cpu_layers)


def _notes(spec: ModelSpec, quant: str, hosts: list[Host], workers: list[Host], dev: tuple[DevicePlan, ...],
           lay: WeightLayout, est: MemoryEstimate, ngl: int, link: tuple[float, float, float, float, int]) -> list[str]:
    a, head = spec.arch, hosts[0]
    link_gbps, link_ms, t_link, ub_link, ctx_cells = link
    cpu_layers = a.n_layer + 1 - ngl
    order = ", ".join(f"{d.device} ({d.host})" for d in dev)
    server = commands.RPC_SERVER
    notes = [] if not workers else [
        f"llama.cpp must be built with -DGGML_RPC=ON on every host; {server} (rpc-server in builds before "
        "mid 2026) serves all of a host's GPUs from one process (since October 2025; older builds "
        "need one rpc-server per GPU, CUDA_VISIBLE_DEVICES=i and a port each) and trusts its network: keep "
        "it on a private link; -c caches the weights on the worker's disk so the next load skips the network",
        f"device order, which -ts follows: {order}; llama.cpp puts the RPC devices first, so "
        + ("the head's GPUs hold the last layers and the output" if head.gpus else
           "the last worker's GPU holds the output layer") + ", and -ts gives each device its layer count",
        f"assumed link: {link_gbps:g} Gbit/s, {link_ms:g} ms a leg; each token's hidden state ({a.n_embd * 4}"
        f" bytes) crosses {2 * len(workers)} legs, and each RPC device gets the attention mask (up to "
        f"{ctx_cells * 2 // 1024} KiB at a full context): {t_link * 1e3:.2f} ms a token, "
        f"{ub_link * 1e3:.0f} ms for each {UBATCH_TOKENS}-token micro-batch of a prompt",
        "split mode layer (llama.cpp's default) across hosts: -sm tensor does not run over RPC"]
    if workers:
        notes.append(f"{head.name} needs the whole GGUF on its disk ({file_bytes(spec, quant, lay) / 2**30:.1f} "
                     "GiB) and reads it by mmap; each worker needs RAM for its largest tensor while it loads, and "
                     "with -c disk for its share")
    if cpu_layers:
        notes.append(f"too big for the GPUs: -ngl {ngl} leaves the first {cpu_layers} layers on {head.name}'s "
                     f"CPU ({est.cpu_bytes / 2**30:.1f} GiB of its RAM, read at an assumed "
                     f"{DEFAULT_RAM_BANDWIDTH / 1e9:g} GB/s); llama.cpp then runs no pipeline between the GPUs")
    if not head.gpus:
        notes.append(f"{head.name} has no GPU: the output layer runs on the last worker and every token's "
                     f"logits ({a.n_vocab * 4 // 1024} KiB) cross the network back")
    notes.append("any GGUF quantization llama.cpp runs" + ("; every host must run the same llama.cpp build (the RPC "
                                                            "protocol version must match)" if workers else ""))
    if len(dev) > 1 and not workers:
        notes.append("split mode layer (llama.cpp's default): whole layers per GPU, -ts gives each GPU its layer "
                     "count (the output layer on the last)")
    return notes
