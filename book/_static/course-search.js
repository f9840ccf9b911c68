/* Search snippets without raw TeX.
 * Sphinx cuts a result's snippet from the page's HTML as fetched, before MathJax has run, so a
 * formula shows as its source (\(h_t\), \[ ... \]): here display math is dropped and inline
 * math is written with plain symbols. Loaded on every page (html_js_files); acts on search.html. */
(() => {
  const SYMBOLS = {
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", eta: "η", theta: "θ", lambda: "λ",
    mu: "μ", rho: "ρ", sigma: "σ", tau: "τ", phi: "φ", psi: "ψ", omega: "ω", Delta: "Δ", Sigma: "Σ",
    partial: "∂", nabla: "∇", odot: "⊙", cdot: "·", times: "×", top: "⊤", approx: "≈", le: "≤", leq: "≤",
    ge: "≥", geq: "≥", ne: "≠", neq: "≠", in: "∈", to: "→", infty: "∞", sum: "Σ", prod: "Π", ldots: "…",
    dots: "…", cdots: "⋯",
  };
  const plain = (tex) => tex
    .replace(/^\s*\\\(|\\\)\s*$/g, "")
    .replace(/\\([A-Za-z]+)/g, (_, name) => SYMBOLS[name] ?? "")
    .replace(/[{}]/g, "")
    .replace(/\\[,;:! ]/g, " ")
    .replace(/\s+/g, " ")
    .trim();

  // Sphinx 7.4's own htmlToText, less math, and with one fix: the anchor of an `{index}` entry is
  // an empty span, whose text ("") makes makeSearchSummary return null and searchtools throw
  // (appendChild(null)); the snippet then comes from the paragraph around the anchor.
  const htmlToText = (htmlString, anchor) => {
    const doc = new DOMParser().parseFromString(htmlString, "text/html");
    // also the theme's print-only table of contents, which would open every page's snippet
    doc.querySelectorAll(".headerlink, script, style, div.math, .onlyprint").forEach((el) => el.remove());
    doc.querySelectorAll("span.math").forEach((el) => el.replaceWith(plain(el.textContent)));
    const main = doc.querySelector('[role="main"]');
    if (!main) return "";
    let block = null;
    try {
      block = anchor ? main.querySelector(anchor) : null;
    } catch (err) {}  // an anchor that is not a valid selector: the whole page
    if (block && !block.textContent.trim())
      block = block.closest("p, li, dd, dt, td, th, blockquote, section");
    return (block || main).textContent;
  };

  const patch = () => {
    if (typeof Search !== "undefined") Search.htmlToText = htmlToText;
  };
  patch();
  document.addEventListener("DOMContentLoaded", patch);
})();
