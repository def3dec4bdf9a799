/* Search result summaries are cut out of each page's HTML, where formulas are still the
   TeX that MathJax typesets later: a reader would see "\(\epsilon\)". Before Sphinx
   extracts the text, every formula is rewritten as plain text ("ε"). A symbol whose name
   was searched for keeps its name, so that the summary still shows the word found.
   Sphinx also looks for the *stemmed* words in the text ("decai" for "decay"), finds none,
   and cuts the summary from the top of the page; the words as typed are looked for too. */
(() => {
  if (typeof Search === "undefined" || !Search.htmlToText) return;

  const searched = new Set(
    (new URLSearchParams(window.location.search).get("q") || "").toLowerCase().split(/\s+/),
  );

  const SYMBOLS = {
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", zeta: "ζ",
    eta: "η", theta: "θ", kappa: "κ", lambda: "λ", mu: "μ", nu: "ν", xi: "ξ", pi: "π",
    rho: "ρ", sigma: "σ", tau: "τ", phi: "φ", varphi: "φ", chi: "χ", psi: "ψ", omega: "ω",
    Gamma: "Γ", Delta: "Δ", Theta: "Θ", Lambda: "Λ", Sigma: "Σ", Phi: "Φ", Psi: "Ψ", Omega: "Ω",
    nabla: "∇", partial: "∂", sum: "Σ", prod: "Π", int: "∫", infty: "∞", cdot: "·", times: "×",
    le: "≤", leq: "≤", ge: "≥", geq: "≥", ne: "≠", neq: "≠", approx: "≈", sim: "~", propto: "∝",
    pm: "±", to: "→", rightarrow: "→", leftarrow: "←", mapsto: "↦", in: "∈", ell: "ℓ",
    lVert: "‖", rVert: "‖", Vert: "‖", lvert: "|", rvert: "|", mid: "|", langle: "⟨", rangle: "⟩",
    ldots: "…", dots: "…", cdots: "⋯", top: "ᵀ", circ: "∘", odot: "⊙", lfloor: "⌊", rfloor: "⌋",
    min: "min", max: "max", log: "log", exp: "exp", cos: "cos", sin: "sin", arg: "arg",
  };
  // Layout commands that carry no meaning in one line of text.
  const DROPPED = new Set([
    "left", "right", "big", "Big", "bigl", "bigr", "Bigl", "Bigr", "bigg", "Bigg", "quad", "qquad",
    "displaystyle", "textstyle", "limits", "nolimits", "underbrace", "overbrace", "rule", "hspace",
    "begin", "end", "aligned", "mathrel", "label", "tag", "notag", "nonumber",
  ]);
  const WRAPPERS = "text|textbf|textit|mathrm|mathbf|mathbb|mathcal|mathit|operatorname|boldsymbol|vec";
  // An accent becomes the combining mark after its argument: \hat v -> v̂
  const ACCENTS = { hat: "\u0302", widehat: "\u0302", bar: "\u0304", overline: "\u0304",
                    tilde: "\u0303", widetilde: "\u0303", dot: "\u0307" };
  const ACCENT = new RegExp(
    `\\\\(${Object.keys(ACCENTS).join("|")})(?![A-Za-z])\\s*(\\{[^{}]*\\}|\\\\[A-Za-z]+|[A-Za-z0-9])`, "g");
  const symbol = (name) => (searched.has(name.toLowerCase()) ? name : SYMBOLS[name])
    ?? (DROPPED.has(name) ? "" : name);

  function plain(tex) {
    let text = tex.trim()
      .replace(/^(\\\(|\\\[|\$\$?)/, "")
      .replace(/(\\\)|\\\]|\$\$?)$/, "");
    // Innermost groups first, so nested fractions and roots come out right.
    for (let pass = 0; pass < 6; pass += 1) {
      const before = text;
      text = text
        .replace(/\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g, "($1)/($2)")
        .replace(/\\[dt]?frac\s*([A-Za-z0-9])\s*([A-Za-z0-9])/g, "$1/$2")
        .replace(/\\sqrt\s*\{([^{}]*)\}/g, "√($1)")
        .replace(new RegExp(`\\\\(?:${WRAPPERS})\\s*\\{([^{}]*)\\}`, "g"), " $1 ")
        .replace(ACCENT, (_, name, argument) => {
          const inner = argument.startsWith("{") ? argument.slice(1, -1) : argument;
          return `${inner.startsWith("\\") ? symbol(inner.slice(1)) : inner}${ACCENTS[name]}`;
        })
        .replace(/\^\{([^{}]*)\}/g, "^($1)")
        .replace(/_\{([^{}]*)\}/g, "_$1");
      if (text === before) break;
    }
    return text
      .replace(/\\([A-Za-z]+)/g, (_, name) => symbol(name))
      .replace(/\\([_%#&$])/g, "$1")
      .replace(/\\[,;:! ]/g, " ")
      .replace(/\\\\/g, " ")
      .replace(/[{}]/g, "")
      .replace(/&(?!\w)/g, "")
      .replace(/\s+/g, " ")
      .trim();
  }

  const htmlToText = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const page = new DOMParser().parseFromString(htmlString, "text/html");
    page.querySelectorAll(".math").forEach((formula) => {
      formula.textContent = ` ${plain(formula.textContent)} `;
    });
    return htmlToText(page.documentElement.outerHTML, anchor);
  };

  const makeSearchSummary = Search.makeSearchSummary;
  Search.makeSearchSummary = (htmlText, keywords, anchor) =>
    makeSearchSummary(htmlText, new Set([...keywords, ...searched].filter(Boolean)), anchor);
})();
