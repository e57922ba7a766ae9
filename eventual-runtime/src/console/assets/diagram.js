// A small renderer of Mermaid flowcharts (the `<workflow>.mmd` files): nodes and edges are read
// from the text, placed in layers by their distance from the roots, and drawn as SVG. It covers
// the flowchart syntax the manifest writes (node shapes, `-->`, `-.->`, `==>`, edge labels);
// lines it does not understand are skipped, and the page shows the source beside the drawing.
"use strict";

window.EventualDiagram = (() => {
  const SVG = "http://www.w3.org/2000/svg";
  // Opening and closing delimiters of the node shapes, longest first.
  const SHAPES = [["([", "])", "stadium"], ["[[", "]]", "subroutine"], ["{{", "}}", "hexagon"], ["[/", "/]", "parallelogram"],
    ["((", "))", "circle"], ["[", "]", "box"], ["(", ")", "round"], ["{", "}", "diamond"], [">", "]", "flag"]];
  const ID = "[A-Za-z0-9_]+";

  /** Mermaid's label text as shown: quotes dropped, `<br/>` a line break, `#quot;` a quote. */
  function labelLines(text) {
    return text.replace(/^"|"$/g, "").replace(/#quot;/g, "\"").split(/<br\s*\/?>/i);
  }

  /** Reads a node reference (`id` or `id<shape>"label"<close>`) at the start of `text`. */
  function readNode(text, nodes) {
    const idMatch = text.match(new RegExp(`^\\s*(${ID})`));
    if (!idMatch) return null;
    const id = idMatch[1];
    let rest = text.slice(idMatch[0].length);
    for (const [open, close, shape] of SHAPES) {
      if (!rest.startsWith(open)) continue;
      const end = rest.indexOf(close, open.length);
      if (end < 0) continue;
      nodes.set(id, { id, shape, lines: labelLines(rest.slice(open.length, end)) });
      rest = rest.slice(end + close.length);
      return { id, rest };
    }
    if (!nodes.has(id)) nodes.set(id, { id, shape: "box", lines: [id] });
    return { id, rest };
  }

  /** The nodes and edges of a flowchart, and its direction (`LR` or `TD`). */
  function parse(source) {
    const nodes = new Map();
    const edges = [];
    let direction = "LR";
    for (const raw of source.split("\n")) {
      const line = raw.trim();
      if (!line || line.startsWith("%%")) continue;
      const header = line.match(/^(?:flowchart|graph)\s+(\w+)/);
      if (header) { direction = header[1] === "LR" || header[1] === "RL" ? "LR" : "TD"; continue; }
      const from = readNode(line, nodes);
      if (!from) continue;
      const arrow = from.rest.match(/^\s*(-\.->|-->|==>|---)\s*(?:\|([^|]*)\|)?/);
      if (!arrow) continue;
      const to = readNode(from.rest.slice(arrow[0].length), nodes);
      if (to) edges.push({ from: from.id, to: to.id, dashed: arrow[1] === "-.->", label: (arrow[2] || "").trim() });
    }
    return { nodes, edges, direction };
  }

  /** Layer of each node: the longest path to it from a node without incoming edges. */
  function layers(nodes, edges) {
    const layer = new Map([...nodes.keys()].map((id) => [id, 0]));
    for (let round = 0; round < nodes.size; round++) {
      let changed = false;
      for (const edge of edges) {
        if (edge.from === edge.to) continue;
        const next = layer.get(edge.from) + 1;
        if (next > layer.get(edge.to) && next < nodes.size) { layer.set(edge.to, next); changed = true; }
      }
      if (!changed) break;
    }
    return layer;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const COLORS = { stadium: "#dbeafe", subroutine: "#cffafe", hexagon: "#fef3c7", parallelogram: "#fce7f3", flag: "#fde2e2", diamond: "#ede9fe", circle: "#e0e7ff", round: "#e0f2fe", box: "#f1f5f9" };

  /** An SVG drawing of the flowchart `source`. */
  function render(source) {
    const { nodes, edges, direction } = parse(source);
    if (nodes.size === 0) {
      const empty = document.createElement("p");
      empty.textContent = "The diagram has no nodes.";
      return empty;
    }
    const layer = layers(nodes, edges);
    const columns = new Map();
    for (const [id, l] of layer) columns.set(l, [...(columns.get(l) || []), id]);
    const width = (node) => Math.max(90, 7.2 * Math.max(...node.lines.map((l) => l.length)) + 24);
    const height = (node) => 16 * node.lines.length + 14;
    const gapMain = 110;
    const gapCross = 18;
    const place = new Map();
    let main = 20;
    let extentCross = 0;
    // Each node's incoming neighbours: a layer is ordered by where they sit, so that edges
    // between layers run straight rather than cross.
    const parents = new Map();
    for (const edge of edges) parents.set(edge.to, [...(parents.get(edge.to) || []), edge.from]);
    const crossOf = (id) => {
      const placed = (parents.get(id) || []).map((p) => place.get(p)).filter(Boolean);
      if (!placed.length) return Infinity;
      return placed.reduce((sum, p) => sum + (direction === "LR" ? p.y : p.x), 0) / placed.length;
    };
    for (const l of [...columns.keys()].sort((a, b) => a - b)) {
      const ids = columns.get(l).map((id, i) => [crossOf(id), i, id]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((x) => x[2]);
      let cross = 20;
      let thickness = 0;
      for (const id of ids) {
        const node = nodes.get(id);
        const [w, h] = [width(node), height(node)];
        const [x, y] = direction === "LR" ? [main, cross] : [cross, main];
        place.set(id, { x, y, w, h });
        cross += (direction === "LR" ? h : w) + gapCross;
        thickness = Math.max(thickness, direction === "LR" ? w : h);
      }
      extentCross = Math.max(extentCross, cross);
      main += thickness + gapMain;
    }
    const [totalW, totalH] = direction === "LR" ? [main - gapMain + 20, extentCross] : [extentCross, main - gapMain + 20];
    const root = svg("svg", { width: totalW, height: totalH, viewBox: `0 0 ${totalW} ${totalH}`, role: "img" });
    const defs = svg("defs", {});
    const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
    marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#475569" }));
    defs.append(marker);
    root.append(defs);
    for (const edge of edges) {
      const [a, b] = [place.get(edge.from), place.get(edge.to)];
      if (!a || !b) continue;
      const [x1, y1, x2, y2] = direction === "LR"
        ? [a.x + a.w, a.y + a.h / 2, b.x, b.y + b.h / 2]
        : [a.x + a.w / 2, a.y + a.h, b.x + b.w / 2, b.y];
      const bend = direction === "LR" ? `C${(x1 + x2) / 2},${y1} ${(x1 + x2) / 2},${y2}` : `C${x1},${(y1 + y2) / 2} ${x2},${(y1 + y2) / 2}`;
      root.append(svg("path", { d: `M${x1},${y1} ${bend} ${x2},${y2}`, fill: "none", stroke: "#475569", "stroke-width": 1.3, "stroke-dasharray": edge.dashed ? "5 4" : "none", "marker-end": "url(#arrow)", class: "edge" }));
      // The label sits near the edge's end, where edges from one node have fanned out.
      if (edge.label) root.append(svg("text", { x: (x1 + 3 * x2) / 4, y: (y1 + 3 * y2) / 4 - 4, "text-anchor": "middle", fill: "#334155", class: "edge-label" }, edge.label));
    }
    for (const [id, p] of place) {
      const node = nodes.get(id);
      const group = svg("g", { class: `node ${node.shape}`, "data-id": id });
      const radius = { stadium: p.h / 2, round: 8, circle: p.h / 2 }[node.shape] || 3;
      group.append(svg("rect", { x: p.x, y: p.y, width: p.w, height: p.h, rx: radius, fill: COLORS[node.shape] || COLORS.box, stroke: "#64748b", "stroke-dasharray": node.shape === "parallelogram" ? "3 2" : "none" }));
      node.lines.forEach((line, i) => group.append(svg("text", { x: p.x + p.w / 2, y: p.y + 19 + 16 * i, "text-anchor": "middle", fill: "#0f172a" }, line)));
      root.append(group);
    }
    return root;
  }

  return { parse, render };
})();
