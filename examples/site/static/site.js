// The reference site's only script: the GPU selector (filled from hardware.json) and the copy buttons.
(function () {
  "use strict";
  var select = document.getElementById("gpu");
  function data(id) { var el = document.getElementById(id); return el ? JSON.parse(el.textContent) : null; }
  var rows = data("rows"), best = data("best");
  var words = {full_gpu: "runs on the GPU", partial: "runs with partial offload",
               cpu_only: "runs on the CPU only", no_fit: "does not fit"};

  function gib(n) { return n == null ? "-" : (n / 1073741824).toFixed(2) + " GiB"; }
  function text(id, value) { var el = document.getElementById(id); if (el) { el.textContent = value; } }

  function show(profile) {
    if (rows) {
      var r = rows[profile];
      document.getElementById("answer").hidden = !r;
      if (!r) { return; }
      text("verdict-quant", r.quant);
      text("verdict", words[r.verdict] || r.verdict);
      document.getElementById("verdict").dataset.verdict = r.verdict;
      text("gpu-bytes", gib(r.gpu_bytes));
      text("tps", r.tokens_per_second == null ? "-" : String(r.tokens_per_second));
      text("context", String(r.context));
      ["ollama", "llama_cpp", "lm_studio"].forEach(function (k) { text("cmd-" + k, r.commands[k] || "-"); });
    }
    if (best) {
      document.querySelectorAll("#models tbody tr").forEach(function (tr) {
        var b = (best[tr.dataset.id] || {})[profile];
        tr.querySelector(".best-quant").textContent = b ? b.quant : "-";
        var v = tr.querySelector(".best-verdict");
        v.textContent = b ? (words[b.verdict] || b.verdict) : "-";
        v.className = "best-verdict " + (b ? b.verdict : "");
      });
    }
  }

  if (select) {
    fetch(select.dataset.hardware).then(function (r) { return r.json(); }).then(function (hw) {
      select.innerHTML = "";
      hw.profiles.forEach(function (p) {
        var o = document.createElement("option");
        o.value = p.id;
        o.textContent = p.label;
        select.appendChild(o);
      });
      select.dataset.ready = "1";
      show(select.value);
    });
    select.addEventListener("change", function () { show(select.value); });
  }

  document.querySelectorAll("button.copy").forEach(function (button) {
    button.addEventListener("click", function () {
      var command = document.getElementById(button.dataset.copy).textContent;
      function done() { text("copied", "Copied: " + command); button.textContent = "Copied"; }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(command).then(done, function () { fallback(command); done(); });
      } else { fallback(command); done(); }
    });
  });

  function fallback(command) {
    var area = document.createElement("textarea");
    area.value = command;
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    document.body.removeChild(area);
  }
}());
