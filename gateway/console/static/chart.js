// SVG drawing for the console: a threshold chart with a draggable operating point, bars, sparklines.
const NS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

export const COLORS = ["#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be123c"];

// A chart over x in [0, 1]: `left` series on a 0..1 axis, one `right` series on its own axis (tokens), a
// vertical marker at `marker` that the user drags; `onMove(x)` while dragging, `onDrop(x)` on release.
export function thresholdChart(container, { left, right, marker, xLabel, onMove, onDrop }) {
  const W = 760, H = 300, m = { l: 48, r: 64, t: 14, b: 40 };
  const iw = W - m.l - m.r, ih = H - m.t - m.b;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "threshold-chart", role: "img" });
  const sx = (x) => m.l + x * iw;
  const sy = (y) => m.t + (1 - y) * ih;
  const rightMax = Math.max(1, ...right.points.filter((p) => Number.isFinite(p[1])).map((p) => p[1]));
  const sr = (y) => m.t + (1 - y / rightMax) * ih;
  for (let i = 0; i <= 10; i += 1) {
    const v = i / 10;
    root.append(svg("line", { x1: sx(v), x2: sx(v), y1: m.t, y2: m.t + ih, class: "gridline" }));
    root.append(svg("line", { x1: m.l, x2: m.l + iw, y1: sy(v), y2: sy(v), class: "gridline" }));
    root.append(svg("text", { x: sx(v), y: H - m.b + 16, class: "tick", "text-anchor": "middle" }, v.toFixed(1)));
    root.append(svg("text", { x: m.l - 6, y: sy(v) + 4, class: "tick", "text-anchor": "end" }, v.toFixed(1)));
    if (i % 2 === 0) {
      const r = (rightMax * i) / 10;
      root.append(svg("text", { x: m.l + iw + 6, y: sr(r) + 4, class: "tick" }, Math.round(r)));
    }
  }
  root.append(svg("text", { x: m.l + iw / 2, y: H - 4, class: "axis-label", "text-anchor": "middle" }, xLabel));
  root.append(
    svg("text", { x: 12, y: m.t + ih / 2, class: "axis-label", "text-anchor": "middle",
      transform: `rotate(-90 12 ${m.t + ih / 2})` }, "share / accuracy"),
  );
  root.append(
    svg("text", { x: W - 8, y: m.t + ih / 2, class: "axis-label", "text-anchor": "middle",
      transform: `rotate(90 ${W - 8} ${m.t + ih / 2})` }, right.label),
  );
  const path = (points, sy2) =>
    points.filter((p) => Number.isFinite(p[1])).map((p, i) => `${i ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy2(p[1]).toFixed(1)}`).join("");
  const legend = svg("g", { class: "legend" });
  [...left, right].forEach((series, i) => {
    const color = COLORS[i % COLORS.length];
    const scale = series === right ? sr : sy;
    root.append(svg("path", { d: path(series.points, scale), stroke: color, class: series === right ? "series dashed" : "series" }));
    legend.append(svg("rect", { x: m.l + 8 + i * 150, y: m.t + 4, width: 10, height: 10, fill: color }));
    legend.append(svg("text", { x: m.l + 22 + i * 150, y: m.t + 13, class: "tick" }, series.label));
  });
  root.append(legend);
  const line = svg("line", { y1: m.t, y2: m.t + ih, class: "marker" });
  const handle = svg("rect", { y: m.t, width: 14, height: ih, class: "marker-handle", id: "tune-marker" });
  const label = svg("text", { y: m.t + ih - 6, class: "marker-label" });
  const place = (x) => {
    line.setAttribute("x1", sx(x));
    line.setAttribute("x2", sx(x));
    handle.setAttribute("x", sx(x) - 7);
    label.setAttribute("x", sx(x) + 6);
    label.textContent = x.toFixed(2);
  };
  place(marker);
  root.append(line, label, handle);
  const toX = (event) => {
    const box = root.getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * W;
    return Math.min(1, Math.max(0, Math.round(((px - m.l) / iw) * 100) / 100));
  };
  let dragging = false;
  root.addEventListener("pointerdown", (event) => {
    dragging = true;
    root.setPointerCapture(event.pointerId);
    const x = toX(event);
    place(x);
    onMove(x);
  });
  root.addEventListener("pointermove", (event) => {
    if (!dragging) return;
    const x = toX(event);
    place(x);
    onMove(x);
  });
  root.addEventListener("pointerup", (event) => {
    if (!dragging) return;
    dragging = false;
    onDrop(toX(event));
  });
  container.replaceChildren(root);
  return { place };
}

// Horizontal bars: items [{label, value, parts?: [{label, value}]}] scaled to the largest value.
export function bars(container, items, format = (v) => String(Math.round(v))) {
  if (!items.length) {
    const empty = document.createElement("p");
    empty.className = "muted";
    empty.textContent = "none yet";
    container.replaceChildren(empty);
    return;
  }
  const max = Math.max(1, ...items.map((i) => i.value));
  const W = 420, row = 22;
  const root = svg("svg", { viewBox: `0 0 ${W} ${Math.max(row, items.length * row)}`, class: "bar-chart" });
  items.forEach((item, i) => {
    const y = i * row;
    root.append(svg("text", { x: 0, y: y + 15, class: "tick" }, item.label));
    let x = 110;
    const parts = item.parts || [{ label: item.label, value: item.value }];
    parts.forEach((part, j) => {
      const w = (part.value / max) * (W - 190);
      const color = COLORS[(part.color ?? j) % COLORS.length];
      const rect = svg("rect", { x, y: y + 4, width: Math.max(0, w), height: row - 8, fill: color });
      rect.append(svg("title", {}, `${part.label}: ${format(part.value)}`));
      root.append(rect);
      x += w;
    });
    root.append(svg("text", { x: x + 6, y: y + 15, class: "tick" }, format(item.value)));
  });
  container.replaceChildren(root);
}

// Sparklines of several series sharing the x axis (sample index); each scaled to its own maximum.
export function sparklines(container, series) {
  const W = 420, H = 120;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "spark" });
  series.forEach((s, i) => {
    const max = Math.max(1e-9, ...s.values);
    const n = Math.max(2, s.values.length);
    const d = s.values.map((v, k) => `${k ? "L" : "M"}${((k / (n - 1)) * (W - 4) + 2).toFixed(1)},${(H - 16 - (v / max) * (H - 30)).toFixed(1)}`).join("");
    root.append(svg("path", { d: d || "M0,0", stroke: COLORS[i], class: "series" }));
    root.append(svg("text", { x: 4 + i * 210, y: H - 2, class: "tick", fill: COLORS[i] }, `${s.label} (max ${max.toFixed(1)})`));
  });
  container.replaceChildren(root);
}
