"""What a check answers, as typed values every face reads (pure).

`catalog.check` returns a `CheckResult`: the model, the template it costs, the hardware and its
budget, the options the runtime was assumed to run with, and one `QuantRow` per quantization with
its memory part by part, verdict, speed and commands. catalog.core.documents turns it into the
`llm-catalog/check/v1` JSON; the CLI's table and the TUI read it directly.
"""



from catalog.core.alignment import Alignment
from catalog.core.memory import DeviceBytes
from catalog.core.model import ModelSpec, TemplateCost
from catalog.core.options import FitLevel, Verdict
from catalog.core.record import Record
from catalog.errors import EXIT_CPU_ONLY, EXIT_FITS, EXIT_NO_FIT, EXIT_PARTIAL
from hardware import Hardware


class MemoryBreakdown(Record):
    """Where one quantization's bytes go, and on which memory."""

    weights_bytes: int
    kv_cache_bytes: int
    compute_bytes: int
    overhead_bytes: int
    output_bytes: int
    template_bytes: int  # the KV cache the template's typical conversation fills
    gpu_bytes: int  # what nvidia-smi shows for the runtime's process
    cpu_bytes: int
    total_bytes: int
    weights_gpu_bytes: int
    kv_cache_gpu_bytes: int
    compute_host_bytes: int
    projector_bytes: int = 0  # a vision projector's weights and compute buffer (in gpu_bytes, or cpu_bytes)


class Commands(Record):
    """The commands that run what was estimated (an empty string: nothing to run with that runtime)."""

    ollama: str
    ollama_session: str  # the same context set inside a running Ollama
    llama_cpp: str  # llama-server
    llama_cpp_cli: str  # llama-cli
    lm_studio: str
    ollama_server_env: str = ""  # NAME=value settings of the Ollama service the estimate assumed
    note: str = ""  # why a runtime has no download command (no published file of this quantization is known)
    file_source: str = ""  # where the downloaded GGUF file was seen listed: the Hub's listing or the catalog's source


# the three runtimes' commands as every face shows them, in this order (label, field of Commands)
COMMAND_LABELS = (("Ollama", "ollama"), ("llama.cpp", "llama_cpp"), ("LM Studio", "lm_studio"))


class GpuShare(Record):
    """One GPU's part of a split over several."""

    gpu: str
    layers: int
    bytes: int
    budget_bytes: int
    parts: DeviceBytes


class OllamaLoad(Record):
    """How Ollama (catalog.core.ollama's version) loads one row: the num_batch it gives llama-server, and the size
    and size_vram `ollama ps` would show."""

    version: str
    num_batch: int
    size_bytes: int
    size_vram_bytes: int


class QuantRow(Record):
    """One quantization on this hardware."""

    quant: str
    file_bytes: int
    memory: MemoryBreakdown
    verdict: Verdict
    gpu_layers: int
    total_layers: int
    tokens_per_second: float | None
    margin_bytes: int | None  # the GPU budget left over (negative: over it); None without a GPU
    cpu_moe_layers: int
    commands: Commands
    gpu_split: tuple[GpuShare, ...] = ()  # several GPUs: each one's layers and bytes
    fit: FitLevel = "fits"  # how it runs: fits, tight, partial, cpu only, too slow, won't run
    prefill_tokens_per_second: float | None = None  # prompt processing, every layer on the GPU(s); else None
    ollama: OllamaLoad | None = None  # under the Ollama runtime: its batch and `ollama ps` figures


class ResolvedOptions(Record):
    """The options the estimate assumed the runtime runs with."""

    context: int
    context_source: str  # why this context
    kv_type: str  # lower case, as the runtimes spell it
    flash_attention: bool
    batch: int
    ubatch: int
    runtime: str
    prefer: str = "quality"  # what the recommendation favours
    min_tps: float = 5.0  # the decode speed it calls usable
    kv_type_v: str = "f16"  # the V cache's type (-ctv); kv_type is K's
    parallel: int = 1  # sequences (llama-server's -np slots over one unified cache)
    gpu_layers: int | None = None  # -ngl as asked (None: as many as fit)
    n_cpu_moe: int | None = None  # --n-cpu-moe as asked (None: chosen to fit)


class CheckResult(Record):
    """Advice for one model on one machine."""

    spec: ModelSpec
    alignment: Alignment
    template: TemplateCost  # the template the assumed runtime applies
    hardware: Hardware
    gpu_budget_bytes: int
    safety_margin: str
    options: ResolvedOptions
    rows: tuple[QuantRow, ...]
    recommended: str | None
    command_notes: tuple[str, ...]
    recommended_why: str = ""  # the recommendation's reason and trade-off, one line

    def row(self, quant: str | None) -> QuantRow | None:
        """The row of `quant`, if shown."""
        return next((r for r in self.rows if r.quant == quant), None)

    @property
    def recommended_row(self) -> QuantRow | None:
        return self.row(self.recommended)

    @property
    def exit_code(self) -> int:
        """The contract's exit code: from the quantization the name pinned, else the recommended one."""
        verdicts = [r.verdict for r in (self.row(self.spec.pinned_quant), self.recommended_row) if r is not None]
        if "full_gpu" in verdicts:
            return EXIT_FITS
        if "partial" in verdicts:
            return EXIT_PARTIAL
        if "cpu_only" in verdicts:
            return EXIT_CPU_ONLY
        return EXIT_NO_FIT
