"""The model every source produces and the service consumes, with its typed parts (pure).

A `ModelSpec` says what the model is (architecture, real or predicted tensor table), what is
known of it (alignment evidence, what its chat template costs, Ollama tags, GGUF repos and
their files) and where each fact came from (`Provenance`). Sources build it; nothing here reads
a file or the network.
"""


from collections.abc import Iterable
from typing import Any

from catalog.core.alignment import Alignment, classify
from catalog.core.arch import Architecture, hf_tensors
from catalog.core.ggml import PRESETS, Tensor
from catalog.core.memo import MISS, Memo
from catalog.core.memory import WeightLayout, layout
from catalog.core.quantize import QuantContext, quantize
from catalog.core.record import Record

# GGUF header bytes per vocabulary entry: the token string with its u64 length
# and its i32 type, plus a BPE's merges or a SentencePiece's f32 score. Read off
# published files (tests/data/published_gguf_sizes.json, file size minus tensor
# data): Llama 3 (BPE) 7.84 MB / 128256 = 61, Qwen2.5 (BPE) 5.95 MB / 152064 = 39;
# Mistral, Phi-3, Gemma 2 (SentencePiece) 22.8-23.7. The BPE figure splits the
# difference: config.json does not say how many merges a tokenizer has.
HEADER_BYTES_PER_TOKEN = {"gpt2": 52, "llama": 23.5}
HEADER_FIXED_BYTES = 16 << 10  # general.* keys, hparams, a chat template


# what a chat template costs a conversation (measured by the sources when they resolve a model; the core
# only reads it), and which template a runtime applies
class TemplateCost(Record):
    """The tokens one chat template adds: a fixed prefix, each user turn and reply, the generation prompt,
    and a typical conversation; or why it was not measured."""

    present: bool | None = None
    safe: bool | None = None  # None: not measured (no text at hand); False: the sandbox stopped it
    unsafe: str | None = None  # why the sandbox stopped it
    error: str | None = None  # the template's own failure (raise_exception, a missing variable)
    counted_with: str | None = None  # the tokenizer; None once `safe` is set: it rendered nothing
    system_prompt_tokens: int | None = None  # BOS and the default system prompt
    per_user_turn_tokens: int | None = None
    per_assistant_turn_tokens: int | None = None
    per_turn_tokens: int | None = None  # one exchange: a user turn and a reply
    generation_prompt_tokens: int | None = None
    turns: int | None = None  # exchanges in the typical conversation
    overhead_tokens: int | None = None  # what the typical conversation adds
    origin: str | None = None  # "Ollama template layer" or "GGUF header", where the source says
    template_key: str | None = None  # the catalog's recorded template (data/templates/KEY.json)
    note: str | None = None  # what the catalog says of the template
    template_source: Any = None  # where the catalog's template text was read
    variants: tuple[str, ...] = ()  # named variants a GGUF carries (tool_use, rag): the default one applies
    default_system_prompt: str | None = None  # an Ollama system layer's text

    @property
    def measured(self) -> bool:
        return self.counted_with is not None


class ChatTemplate(Record):
    """A model's chat templates: whether one ships, and what each kind costs where it was measured."""

    present: bool | None = None
    jinja: TemplateCost | None = None  # the template llama.cpp (--jinja) and LM Studio apply
    ollama: TemplateCost | None = None  # the Go template layer Ollama applies instead


def applied_template(t: ChatTemplate, runtime: str) -> TemplateCost:
    """The template `runtime` applies: Ollama its own Go layer where the model has one, the others the Jinja
    template (a model known only by its Go layer is measured by it for every runtime)."""
    first, second = (t.ollama, t.jinja) if runtime == "ollama" else (t.jinja, t.ollama)
    return first or second or TemplateCost(present=t.present)


def templates_to_measure(t_jinja: bool, t_go: bool, runtimes: tuple[str, ...]) -> tuple[bool, bool]:
    """Which of a model's templates (Jinja, Go layer) the `runtimes` apply, and so must be measured."""
    go = t_go and ("ollama" in runtimes or not t_jinja)
    jinja = t_jinja and (any(r != "ollama" for r in runtimes) or not t_go)
    return jinja, go


_RECORD_KEYS = ("system_prompt_tokens", "per_user_turn_tokens", "per_assistant_turn_tokens", "per_turn_tokens",
                "generation_prompt_tokens")


def template_record(cost: TemplateCost) -> dict[str, Any]:
    """A measured cost as data/templates/*.json store it (`overhead`)."""
    out: dict[str, Any] = {"present": cost.present, "safe": cost.safe}
    if not cost.measured:
        return {**out, "unsafe": cost.unsafe, "error": cost.error}
    out["counted_with"] = cost.counted_with
    out.update((k, getattr(cost, k)) for k in _RECORD_KEYS if getattr(cost, k) is not None)
    if cost.turns is not None:
        out["typical_conversation"] = {"turns": cost.turns, "overhead_tokens": cost.overhead_tokens}
        out["overhead_tokens"] = cost.overhead_tokens
    return out


def template_from_record(doc: dict[str, Any], **about: Any) -> TemplateCost:
    """A stored `template_record` as a cost, with what the catalog says of it (`about`: origin, template_key, ...)."""
    typical = doc.get("typical_conversation") or {}
    cost = TemplateCost(
        present=doc.get("present"), safe=doc.get("safe"), unsafe=doc.get("unsafe"), error=doc.get("error"),
        counted_with=doc.get("counted_with"), system_prompt_tokens=doc.get("system_prompt_tokens"),
        per_user_turn_tokens=doc.get("per_user_turn_tokens"),
        per_assistant_turn_tokens=doc.get("per_assistant_turn_tokens"), per_turn_tokens=doc.get("per_turn_tokens"),
        generation_prompt_tokens=doc.get("generation_prompt_tokens"),
        turns=typical.get("turns"), overhead_tokens=doc.get("overhead_tokens"))
    return cost._replace(**about)


class GgufFile(Record):
    """One quantization a GGUF repo publishes."""

    quant: str
    file: str | None = None  # its path in the repo (the first part of a split file)
    bytes: int | None = None  # all parts together
    legacy_mix: bool = False  # written by an older llama-quantize whose tensor mix the predictor does not follow
    source: str | None = None  # where this file was seen listed, when not where the repo's list was read


class GgufRepo(Record):
    """A Hugging Face repo of GGUF files for the model."""

    repo: str
    files: tuple[GgufFile, ...] = ()  # empty: the files are not recorded
    imatrix: bool = False  # quantized with an importance matrix (a few presets' mixes change)
    untied_output: bool = False  # its converter wrote a separate output matrix for a tied model
    source: str | None = None  # where its file list was read: an address a person can open

    def published(self, quant: str) -> GgufFile | None:
        """The file at `quant` whose size is known and whose tensor mix the predictor follows."""
        f = next((f for f in self.files if f.quant == quant), None)
        return f if f is not None and f.bytes and not f.legacy_mix else None

    def listed(self, quant: str) -> GgufFile | None:
        """The file at `quant` the repo lists, if it lists one."""
        return next((f for f in self.files if f.quant == quant), None)


class OllamaInfo(Record):
    """What Ollama's library serves of the model."""

    library: str | None = None
    tags: tuple[tuple[str, str | None], ...] = ()  # (tag, the quantization it serves)
    num_ctx: int | None = None  # the num_ctx the model's params layer (Modelfile PARAMETER) sets


class Fetched(Record):
    """Where remote metadata was read this time: the source itself or the cache, and how old it is."""

    origin: str  # "hub" | "registry" | "cache"
    stale: bool
    age_s: int
    unchanged: bool | None = None  # re-read from the Hub: the repo's commit had not moved


class GgufRead(Record):
    """A remote GGUF header read by HTTP Range: which file, and what it cost."""

    file: str
    downloaded_bytes: int
    requests: int
    parts: int


class Provenance(Record):
    """Where the facts of a spec come from: addresses a person can open, and how fresh they are."""

    hub: str | None = None  # the Hub repo's page
    revision: str | None = None  # its commit
    ollama_registry: str | None = None  # the registry manifest
    model_layer: str | None = None  # the GGUF layer's digest
    metadata: Fetched | None = None
    config_blob: tuple[tuple[str, Any], ...] = ()  # the registry's config blob: family, size label, file type
    gguf_header: GgufRead | None = None
    gguf_vocab: str | None = None  # the remote GGUF's vocabulary, kept in the cache
    config: Any = None  # config.json: a URL, a local path, or the catalog's recorded source
    tokenizer_json: str | None = None  # a tokenizer.json fetched to count the template with
    file: str | None = None  # a local GGUF
    entry: str | None = None  # the catalog file


class ModelSpec(Record):
    """A model resolved from any source, with what we know and where it came from."""

    id: str
    name: str
    family: str
    arch: Architecture
    parameters: int
    hf_repo: str | None = None
    tensors: tuple[Tensor, ...] = ()  # the real table of a GGUF file; empty when predicted
    file_quant: str | None = None  # the quantization of that real file
    file_bytes: int | None = None
    source_dtype: str = "BF16"
    tokenizer: str = "gpt2"  # GGUF tokenizer.ggml.model
    header_bytes: int | None = None  # a GGUF header's size, when read from a real or published file
    alignment: Alignment | None = None
    template: ChatTemplate = ChatTemplate()
    ollama: OllamaInfo = OllamaInfo()
    gguf_repos: tuple[GgufRepo, ...] = ()
    license: str | None = None
    gated: bool | None = None
    local_path: str | None = None
    provenance: Provenance = Provenance()
    pinned_quant: str | None = None  # the quantization the name chose (an Ollama tag, `:Q4_K_M`)
    # a vision model's projector (mmproj): weights and clip's warm-up compute buffer (catalog.core.vision); its
    # type, or "unmodelled" for a vision tower whose projector is not sized here
    projector_bytes: int = 0
    projector_kind: str = ""


def alignment_of(spec: ModelSpec) -> Alignment:
    """The spec's alignment verdict; a model no source classified is classified by its name."""
    if spec.alignment is not None:
        return spec.alignment
    p = spec.provenance
    where = p.file or (p.config if isinstance(p.config, str) else None) or spec.id
    return classify(spec.name, where, None, spec.template.present)


def quant_context(a: Architecture, has_imatrix: bool = False) -> QuantContext:
    """The model facts llama-quantize consults."""
    # llama.cpp calls an 80-layer llama "70B" and bumps its attn_v
    # llama-quantize counts ffn_down tensors over every block the file holds, multi-token-prediction ones too
    return QuantContext(a.arch, a.n_layer + a.n_nextn, a.n_expert, a.n_gqa, a.arch == "llama" and a.n_layer == 80,
                        has_imatrix)


def tensors_for(spec: ModelSpec, quant: str, has_imatrix: bool = False, repo: GgufRepo | None = None) -> list[Tensor]:
    """The tensor table of `spec` at `quant`: the real one, or predicted from the architecture as the GGUF
    repo the commands download it from was quantized.

    Args:
        spec: the model.
        quant: a llama-quantize preset.
        has_imatrix: whether the file was quantized with an importance matrix, which changes a few
            tensors' types in Q4_0/Q5_0/IQ3_XXS/IQ4 presets; the repo's own flag wins.
        repo: the GGUF repo whose file is meant (default `repo_for(spec, quant)`): its `imatrix` flag and
            its `untied_output` (a converter that wrote a separate output matrix for a model whose config
            ties it, as Qwen's own GGUF repos did) apply.
    """
    if spec.tensors and (quant == spec.file_quant or spec.file_quant is None):
        return list(spec.tensors)
    a = spec.arch
    repo = repo or repo_for(spec, quant)
    if repo is not None:
        has_imatrix = repo.imatrix or has_imatrix
        if repo.untied_output and a.tied_embeddings:
            a = a._replace(tied_embeddings=False)
    src = "BF16" if quant == "BF16" else ("F32" if quant == "F32" else "F16")
    return quantize(hf_tensors(a, src), quant, quant_context(a, has_imatrix))


def repo_for(spec: ModelSpec, quant: str) -> GgufRepo | None:
    """The GGUF repo the commands download `quant` from: the first that publishes that file (its size known) or
    lists no files at all (its files are not recorded), else the first that lists it (the commands' choice too,
    so its imatrix and output flags shape the prediction)."""
    for r in spec.gguf_repos:
        if r.published(quant) or not r.files:
            return r
    return listing_repo(spec, quant)


def listing_repo(spec: ModelSpec, quant: str) -> GgufRepo | None:
    """The first GGUF repo whose recorded file list names `quant` (a command downloads only a listed file)."""
    return next((r for r in spec.gguf_repos if r.listed(quant) is not None), None)


def header_bytes(spec: ModelSpec, lay: WeightLayout) -> int:
    """A GGUF header's size: read, or estimated from the vocabulary and tensor infos."""
    if spec.header_bytes is not None:
        return spec.header_bytes
    per_token = HEADER_BYTES_PER_TOKEN.get(spec.tokenizer, 52)
    return HEADER_FIXED_BYTES + lay.info_bytes + int(spec.arch.n_vocab * per_token)


def file_bytes(spec: ModelSpec, quant: str, lay: WeightLayout) -> int:
    """The GGUF file's size at `quant`: known, or header plus 32-byte-aligned tensor data (once per spec object,
    quantization and layout: every row and Ollama's batch rule ask)."""
    size = _FILE_BYTES.get((spec, lay), quant)
    if size is not MISS:
        return int(size)
    if spec.file_bytes is not None and quant == spec.file_quant:
        return int(_FILE_BYTES.put((spec, lay), quant, spec.file_bytes))
    repo = repo_for(spec, quant)
    f = repo.published(quant) if repo else None
    return int(_FILE_BYTES.put((spec, lay), quant,
                               int(f.bytes) if f is not None and f.bytes else predict_file_bytes(spec, lay)))


def predict_file_bytes(spec: ModelSpec, lay: WeightLayout) -> int:
    """Predicted GGUF size: the header plus every tensor's data, each padded to 32 bytes."""
    return (header_bytes(spec, lay) + 31) // 32 * 32 + lay.padded_bytes


def weight_layout(spec: ModelSpec, tensors: list[Tensor]) -> WeightLayout:
    """`memory.layout` with this model's MoE expert share."""
    a = spec.arch
    return layout(tensors, a.n_layer, a.n_expert_used / a.n_expert if a.n_expert else 1.0)


# the hardware-independent part of every row, once per spec object and quantization, reused across profiles, fits
# and re-estimates (catalog.core.memo): tables are large, layouts a few tuples of per-layer sums
_TABLES = Memo(256)
_LAYOUTS = Memo(8192)
_FILE_BYTES = Memo(8192)


def weight_table(spec: ModelSpec, quant: str) -> tuple[list[Tensor], WeightLayout]:
    """`tensors_for(spec, quant)` and its `weight_layout`, once per spec object and quantization (callers must
    not change the list)."""
    hit = _TABLES.get((spec,), quant)
    if hit is not MISS:
        return hit  # type: ignore[no-any-return]
    tensors = tensors_for(spec, quant)
    return _TABLES.put((spec,), quant, (tensors, layout_for(spec, quant, tensors)))  # type: ignore[no-any-return]


def layout_for(spec: ModelSpec, quant: str, tensors: list[Tensor] | None = None) -> WeightLayout:
    """The weight layout of `spec` at `quant` (what a check's rows need of its tensor table), once per spec object
    and quantization, or as `seed_layouts` gave it."""
    hit = _LAYOUTS.get((spec,), quant)
    if hit is not MISS:
        return hit  # type: ignore[no-any-return]
    lay = weight_layout(spec, tensors if tensors is not None else tensors_for(spec, quant))
    return _LAYOUTS.put((spec,), quant, lay)  # type: ignore[no-any-return]


def has_layouts(spec: ModelSpec, quants: list[str]) -> bool:
    """Whether `layout_for` already holds every one of these quantizations of this spec object."""
    return all(_LAYOUTS.get((spec,), q) is not MISS for q in quants)


def seed_layouts(spec: ModelSpec, layouts: dict[str, WeightLayout]) -> None:
    """Give `layout_for` layouts computed before (by an earlier process, for this same config and rules)."""
    for quant, lay in layouts.items():
        _LAYOUTS.put((spec,), quant, lay)


def known_quants(spec: ModelSpec) -> list[str]:
    """Quantizations for which a real file is known (a local file or a published repo)."""
    out = [spec.file_quant] if spec.file_quant else []
    for repo in spec.gguf_repos:
        out.extend(f.quant for f in repo.files
                   if f.quant in PRESETS and f.quant not in out and repo.published(f.quant))
    return out


def relisted(repo: GgufRepo, names: Iterable[str], source: str) -> GgufRepo:
    """`repo` with the files a current listing of it names (`source`: that listing's address): a recorded file
    the listing no longer names is dropped, one it adds is kept (size unknown), a split file missing a part is
    left out, and a recorded file still listed keeps its recorded size."""
    from catalog.core.gguf_names import gguf_files

    old = {(f.quant, f.file): f._replace(source=None) for f in repo.files}  # the listing is now their source
    files = tuple(old.get((q, f["file"])) or GgufFile(q, f["file"])
                  for q, f in gguf_files(dict.fromkeys(names, 0)).items() if not f.get("incomplete"))
    return repo._replace(files=files, source=source)


def estimate_note(spec: ModelSpec) -> str | None:
    """What the estimate could not model for this spec's architecture (None: all of it is modelled)."""
    from catalog.core.arch import NOT_RUN, modelled

    if spec.arch.arch in NOT_RUN:
        return (f"llama.cpp does not load {spec.arch.arch} models (\"unsupported model architecture\"), and so "
                "neither do Ollama and LM Studio: no command is printed. The memory is its own tables' weights, with "
                "KV cache and compute sized as a standard attention transformer's")
    vision = ("its vision projector (mmproj), which Ollama and LM Studio load by default and llama-server with "
              "--mmproj, is not sized here and not counted" if spec.projector_kind == "unmodelled" else None)
    if modelled(spec.arch):
        return vision
    weights = ("from the file's real tensor table" if spec.tensors else "a standard transformer's tables holding the "
               "exact parameter count where the Hub gives one, else a gated-MLP upper bound")
    return (f"KV cache and compute are not modelled for {spec.arch.arch}: they are sized as a standard attention "
            f"transformer's, which recurrent state, other attention or a vision projector would change; weights "
            f"{weights}. Treat the totals as an estimate, not a fit" + (f"; {vision}" if vision else ""))


def downloadable_quants(spec: ModelSpec) -> tuple[set[str], set[str]]:
    """Quantizations a printed command fetches as they are, in two tiers: a local file or a file a GGUF repo
    lists (every runtime's command downloads it); and those only a tag of Ollama's library serves (the other
    runtimes make them from the original weights)."""
    files = {spec.file_quant} if spec.file_quant else set()
    files.update(f.quant for repo in spec.gguf_repos for f in repo.files)
    tags = {q for t, q in spec.ollama.tags if q and t != "latest"} - files
    return files, tags
