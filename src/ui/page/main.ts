/**
 * The `cdfilter ui` page (preact, bundled by scripts/build-ui.ts into src/ui/static/app.js).
 * Every string from the driver (image names above all) is rendered as a text node or drawn on a
 * canvas, never parsed as HTML; the server's Content-Security-Policy forbids inline script.
 */
import { h, render, type ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { decodeIoctl } from "../../client/catalog.ts";
import { decodePassThroughCompletion, formatPassThroughCompletion } from "../../client/scsi-decode.ts";
import type { Lane } from "../locks.ts";
import type { DriveView } from "../protocol.ts";
import { FILTER_FIELDS, type FilterField } from "./filter.ts";
import {
  decisionName,
  cdbText,
  duration,
  hex32,
  hexDump,
  kindName,
  majorName,
  reasonName,
  requestName,
  seconds,
  statusName,
  statusOk,
} from "./format.ts";
import { Model } from "./model.ts";

declare global {
  interface Window {
    /** [newest seq on screen, epoch ms after the frame that showed it] (benchmarks, tests) */
    __cdfPaints: [number, number][];
    __cdfModel: Model;
  }
}

const token = /(?:^|[#&])token=([A-Za-z0-9_-]+)/.exec(location.hash)?.[1];
const model = new Model(token);
window.__cdfModel = model;
window.__cdfPaints = model.paints;

const ROW_H = 20;
/** Tallest scroll area used; beyond it the scroll position is scaled (Chromium caps element heights near 33.5M px). */
const MAX_PX = 15_000_000;

function useModel(): number {
  const [, set] = useState(0);
  useEffect(() => model.subscribe(() => set(model.version)), []);
  return model.version;
}

function App() {
  useModel();
  const [selected, setSelected] = useState(-1);
  const [scrollReq, setScrollReq] = useState<{ row: number; n: number } | undefined>();
  const select = (row: number, scroll = true) => {
    setSelected(row);
    if (scroll) setScrollReq({ row, n: Math.random() });
  };
  return h(
    "div",
    { class: "app" },
    h(Header, null),
    h(
      "main",
      { class: "main" },
      h(Owners, null),
      h(Filters, null),
      h(Table, { selected, select, scrollReq }),
      h(Timeline, { selected, select }),
    ),
    h(Details, { row: selected, select }),
  );
}

function Header() {
  const m = model;
  const s = m.store;
  const shown = m.view.length - s.gaps.length;
  const [msg, setMsg] = useState("");
  const act = (path: string, body: object) =>
    m.action(path, body).then(
      (r) => setMsg(r),
      (e: Error) => setMsg(`failed: ${e.message}`),
    );
  return h(
    "header",
    { class: "top" },
    h("strong", null, "cdfilter"),
    h("span", { class: "title", "data-testid": "title" }, m.hello ? `${m.hello.source}: ${m.hello.title}` : "connecting…"),
    h("span", { class: `conn ${m.connection}`, "data-testid": "connection" }, m.ended ? "file read whole" : m.connection),
    h(
      "span",
      { class: "counts", "data-testid": "counts" },
      `${s.length.toLocaleString("en-US")} records · ${Math.max(0, shown).toLocaleString("en-US")} shown`,
      s.droppedTotal || s.gaps.length ? h("span", { class: "dropped" }, ` · ${s.droppedTotal.toLocaleString("en-US")} dropped`) : null,
    ),
    m.hello?.actions && m.token
      ? h(
          "span",
          { class: "actions" },
          h("button", { type: "button", "data-testid": "clear-trace", onClick: () => act("/api/clear-trace", {}) }, "Clear trace"),
          msg ? h("span", { class: "msg" }, msg) : null,
        )
      : h("span", { class: "readonly", title: "start with --allow-actions to set policies or clear the trace" }, "read-only"),
  );
}

/** When an owner took its first lock still held: on the table's time axis when the trace has
 * records (same clock), else relative to the ledger snapshot. */
function since(ledgerTakenAt: number, t: number): string {
  if (model.store.length) return `+${seconds(t - model.t0())}`;
  return `${((ledgerTakenAt - t) / 1e7).toFixed(1)}s before the snapshot`;
}

function Owners() {
  const l = model.ledger;
  if (!l) return h("section", { class: "owners" }, h("em", null, "waiting for the ledger…"));
  return h(
    "section",
    { class: "owners", "data-testid": "owners" },
    l.drives.map((d) => h(DriveCard, { d, takenAt: Number(l.takenAt), from: l.from, key: d.driveId })),
  );
}

function DriveCard({ d, takenAt, from }: { d: DriveView; takenAt: number; from: string }) {
  const blockers = d.owners.filter((o) => o.blocksEject);
  const actions = model.hello?.actions && model.token && from === "driver";
  return h(
    "div",
    { class: "drive", "data-testid": `drive-${d.driveId}` },
    h(
      "div",
      { class: "drive-head" },
      h("b", null, `drive ${d.driveId} ${d.name}`),
      h("span", { class: `policy ${d.policy}` }, d.policy),
      h("span", null, `secure ${d.secureTotal} · simple ${d.simpleTotal} · MCN ${d.mcnTotal} · denials ${d.denials}`),
      h(
        "span",
        { class: blockers.length ? "eject blocked" : "eject free", "data-testid": `eject-${d.driveId}` },
        blockers.length
          ? `eject now: blocked by ${blockers.map((o) => `${o.imageName || "?"}:${o.pid}`).join(", ")}`
          : "eject now: nothing blocks it",
      ),
      actions
        ? h(
            "span",
            { class: "actions" },
            ["observe", "enforce"].map((p) =>
              h(
                "button",
                {
                  type: "button",
                  disabled: d.policy === p,
                  "data-testid": `policy-${d.driveId}-${p}`,
                  onClick: () => model.action("/api/policy", { driveId: d.driveId, policy: p }).catch(() => {}),
                },
                p,
              ),
            ),
          )
        : null,
    ),
    d.owners.length === 0
      ? h("div", { class: "none" }, "no lock held")
      : h(
          "table",
          { class: "owners-table" },
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              ["image", "pid", "handle", "secure", "simple", "MCN", "excl", "since", "blocks an eject"].map((c) => h("th", { key: c }, c)),
            ),
          ),
          h(
            "tbody",
            null,
            d.owners.map((o) =>
              h(
                "tr",
                { key: String(o.handleId), class: o.blocksEject ? "blocker" : "" },
                h("td", { class: "image" }, o.imageName || "?"),
                h("td", null, String(o.pid)),
                h("td", null, `h${o.handleId}`),
                h("td", null, String(o.secureCount)),
                h("td", null, String(o.simpleCount)),
                h("td", null, String(o.mcnCount)),
                h("td", null, o.exclusive ? "yes" : ""),
                h("td", null, since(takenAt, Number(o.since))),
                h("td", { class: "why" }, o.blocksEject || "no"),
              ),
            ),
          ),
        ),
    d.ownersTruncated ? h("div", { class: "warn" }, "more owners than the reply carries") : null,
  );
}

function Filters() {
  const [field, setField] = useState<FilterField>("image");
  const [exclude, setExclude] = useState(false);
  const [value, setValue] = useState("");
  const [error, setError] = useState("");
  const add = (e: Event) => {
    e.preventDefault();
    try {
      model.addFilter(field, exclude, value);
      setValue("");
      setError("");
    } catch (err) {
      const hint = (err as { hint?: string }).hint;
      setError(hint ? `${(err as Error).message} (${hint})` : (err as Error).message);
    }
  };
  const f = model.filters;
  return h(
    "section",
    { class: "filters" },
    h(
      "form",
      { onSubmit: add, "data-testid": "filter-form" },
      h(
        "select",
        {
          value: field,
          "data-testid": "filter-field",
          onChange: (e: Event) => setField((e.target as HTMLSelectElement).value as FilterField),
        },
        FILTER_FIELDS.map((x) => h("option", { value: x, key: x }, x)),
      ),
      h(
        "select",
        {
          value: exclude ? "exclude" : "include",
          "data-testid": "filter-action",
          onChange: (e: Event) => setExclude((e.target as HTMLSelectElement).value === "exclude"),
        },
        h("option", { value: "include" }, "include"),
        h("option", { value: "exclude" }, "exclude"),
      ),
      h("input", {
        value,
        placeholder: "value: *burner*, 4100, READ, IOCTL_STORAGE_EJECT_MEDIA, failed, DENY, 10..200, 0s..2s",
        title: "the shared filter rules (docs/filters.md); a comma-separated list means any of them",
        "data-testid": "filter-value",
        onInput: (e: Event) => setValue((e.target as HTMLInputElement).value),
      }),
      h("button", { type: "submit", "data-testid": "filter-add" }, "Add filter"),
    ),
    error ? h("span", { class: "error", "data-testid": "filter-error" }, error) : null,
    h(
      "span",
      { class: "chips" },
      f.clauses.map((c) =>
        h(
          "span",
          { class: `chip ${c.exclude ? "exclude" : "include"}`, key: c.id, "data-testid": "filter-chip" },
          `${c.exclude ? "exclude" : "include"} ${c.field} ${c.value} `,
          h("b", { "data-testid": "filter-count" }, c.matches.toLocaleString("en-US")),
          h("button", { type: "button", title: "remove", onClick: () => model.removeFilter(c.id) }, "×"),
        ),
      ),
      f.clauses.length
        ? h("span", { class: "dim" }, ` (${model.lastFilterMs.toFixed(0)} ms over ${model.store.length.toLocaleString("en-US")})`)
        : null,
    ),
  );
}

const COLUMNS = ["seq", "time", "process", "drive", "handle", "", "request", "decision", "status", "duration", "locks"];

function Row({ row, selected, onClick, top }: { row: number; selected: boolean; onClick: () => void; top: number }) {
  const s = model.store;
  const k = s.kind[row]!;
  const dir = k === 1 ? "→" : k === 2 ? "←" : k === 3 || k === 4 ? "⟲" : k === 5 ? "+" : k === 6 ? "−" : "?";
  const head = k === 1 ? s.head(row) : s.heads.has(row) ? s.head(row) : undefined;
  let what: string;
  if (k === 1 || k === 2) {
    const pair = k === 2 ? s.pair(row, 4096) : -1;
    what = requestName(s.major[row]!, s.ioctl[row]!, head ?? (pair >= 0 ? s.head(pair) : undefined));
  } else if (k === 3) what = `auto-release of ${s.released[row]} secure lock(s)`;
  else if (k === 4) what = `leak release of ${s.released[row]} simple lock(s)`;
  else if (k === 5) what = `handle h${s.handle[row]} opened`;
  else if (k === 6) what = `handle h${s.handle[row]} gone`;
  else what = kindName(k);
  const dec = s.decision[row]!;
  const rea = s.reason[row]!;
  const decision = [dec === 3 || dec === 4 ? decisionName(dec) : "", rea ? reasonName(rea) : ""].filter(Boolean).join(" ");
  const st = s.status[row]!;
  const showStatus = k === 2 || (k === 1 && st !== 0);
  const img = s.images[s.image[row]!] || (k === 1 && s.major[row] === 0 ? "(create)" : "?");
  return h(
    "div",
    {
      class: `row k${k}${selected ? " sel" : ""}${dec === 3 ? " deny" : ""}`,
      style: { top: `${top}px` },
      onClick,
      "data-row": row,
      "data-testid": "trace-row",
    },
    h("span", null, String(s.seq[row])),
    h("span", null, `+${seconds(s.ts[row]! - model.t0())}`),
    h("span", { class: "image" }, `${img}:${s.pid[row]}`),
    h("span", null, `d${s.drive[row]}`),
    h("span", null, s.handle[row] ? `h${s.handle[row]}` : ""),
    h("span", null, dir),
    h("span", { class: "what" }, what),
    h("span", { class: dec === 3 ? "bad" : "" }, decision),
    h("span", { class: showStatus ? (statusOk(st) ? "ok" : "bad") : "" }, showStatus ? statusName(st) : ""),
    h("span", null, k === 2 ? duration(s.duration[row]!) : ""),
    h("span", { class: "dim" }, `${s.secureTotal[row]}/${s.simpleTotal[row]}`),
  );
}

function GapRow({ gap, top }: { gap: number; top: number }) {
  const g = model.store.gaps[gap]!;
  const why =
    g.why === "slow-client"
      ? "this page read too slowly; the server's history moved past them"
      : g.why === "reset"
        ? "the driver's trace ring restarted"
        : "the driver's trace ring overwrote them before they were read";
  return h(
    "div",
    { class: "row gap", style: { top: `${top}px` }, "data-testid": "gap-row" },
    `⚠ ${g.count.toLocaleString("en-US")} record(s) dropped after seq ${g.afterSeq}: ${why}`,
  );
}

function Table({
  selected,
  select,
  scrollReq,
}: {
  selected: number;
  select: (row: number, scroll?: boolean) => void;
  scrollReq: { row: number; n: number } | undefined;
}) {
  const ref = useRef<HTMLDivElement>(null);
  // An object, so that setting the same position after leaving follow mode still re-renders.
  const [scrollState, setScrollState] = useState({ top: 0 });
  const setScrollTop = (top: number) => setScrollState({ top });
  const [viewH, setViewH] = useState(400);
  const follow = useRef(true);
  const v = model.view;
  const count = v.length;
  const full = count * ROW_H;
  const spacer = Math.min(full, MAX_PX);
  // While following the newest records the position is the bottom, without waiting for the
  // scroll event that the layout effect below causes.
  const scrollTop = follow.current ? Math.max(0, spacer - viewH) : scrollState.top;
  const scale = full > MAX_PX ? (full - viewH) / (MAX_PX - viewH) : 1;
  const virtualTop = scrollTop * scale;
  const first = Math.max(0, Math.floor(virtualTop / ROW_H));
  const n = Math.ceil(viewH / ROW_H) + 2;
  const baseTop = scrollTop - (virtualTop - first * ROW_H);

  useLayoutEffect(() => {
    const el = ref.current!;
    const ro = new ResizeObserver(() => setViewH(el.clientHeight));
    ro.observe(el);
    setViewH(el.clientHeight);
    return () => ro.disconnect();
  }, []);
  // Follow the newest records while the view is scrolled to the bottom.
  useLayoutEffect(() => {
    const el = ref.current!;
    if (follow.current && el.scrollTop + el.clientHeight < spacer - 1) el.scrollTop = spacer;
  });
  useLayoutEffect(() => {
    if (!scrollReq) return;
    const el = ref.current!;
    const pos = v.indexOfRow(scrollReq.row, model.store.gaps);
    const vt = first * ROW_H;
    const targetVirtual = pos * ROW_H;
    if (targetVirtual < vt || targetVirtual > vt + viewH - 2 * ROW_H) {
      el.scrollTop = Math.max(0, (targetVirtual - viewH / 2) / scale);
      follow.current = false;
      setScrollTop(el.scrollTop);
    }
  }, [scrollReq]);
  const lastVisible = Math.min(count - 1, first + n - 1);
  // The timeline (rendered after this) shades the records in view.
  model.visible = [count ? rowNear(first) : -1, count ? rowNear(lastVisible) : -1];

  const rows: ComponentChildren[] = [];
  for (let i = first; i < Math.min(count, first + n); i++) {
    const e = v.items[i]!;
    const top = baseTop + (i - first) * ROW_H;
    rows.push(
      e >= 0
        ? h(Row, { key: e, row: e, top, selected: e === selected, onClick: () => select(e, false) })
        : h(GapRow, { key: `g${e}`, gap: -e - 1, top }),
    );
  }
  const onKey = (ev: KeyboardEvent) => {
    if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
    ev.preventDefault();
    let pos = selected >= 0 ? v.indexOfRow(selected, model.store.gaps) : 0;
    const step = ev.key === "ArrowDown" ? 1 : -1;
    do pos += step;
    while (pos >= 0 && pos < count && v.items[pos]! < 0);
    if (pos >= 0 && pos < count) select(v.items[pos]!);
  };
  return h(
    "section",
    { class: "table" },
    h(
      "div",
      { class: "row head" },
      COLUMNS.map((c) => h("span", { key: c }, c)),
    ),
    h(
      "div",
      {
        class: "scroll",
        ref,
        tabIndex: 0,
        "data-testid": "trace-table",
        onKeyDown: onKey,
        onScroll: (e: Event) => {
          const el = e.currentTarget as HTMLDivElement;
          const atBottom = el.scrollTop + el.clientHeight >= spacer - ROW_H;
          // Following: the render already placed the rows at the bottom.
          if (atBottom && follow.current) return;
          follow.current = atBottom;
          setScrollTop(el.scrollTop);
        },
      },
      h("div", { class: "spacer", style: { height: `${spacer}px` } }, rows),
      count === 0 ? h("div", { class: "empty" }, model.store.length ? "no record matches the filters" : "no records yet") : null,
    ),
  );
}

function rowNear(pos: number): number {
  const v = model.view;
  for (let i = pos; i >= 0; i--) if (v.items[i]! >= 0) return v.items[i]!;
  for (let i = pos + 1; i < v.length; i++) if (v.items[i]! >= 0) return v.items[i]!;
  return -1;
}

const KIND_COLOR: Record<string, string> = { secure: "#c0392b", simple: "#2471a3", mcn: "#7d3c98" };
const LANE_H = 18;
const GUTTER = 230;

function laneLabel(l: Lane): string {
  return `d${l.driveId} h${l.handleId} ${l.image || "?"}:${l.pid} ${l.kind}`;
}

function Timeline({ selected, select }: { selected: number; select: (row: number) => void }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const lanes = model.tracker.lanes;
  const s = model.store;
  const height = Math.max(3, lanes.length + 1) * LANE_H + 16;
  useLayoutEffect(() => {
    const c = ref.current!;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth;
    // Resizing reallocates the bitmap: only when the size changes.
    if (c.width !== Math.floor(w * dpr)) c.width = Math.floor(w * dpr);
    if (c.height !== Math.floor(height * dpr)) c.height = Math.floor(height * dpr);
    const g = c.getContext("2d")!;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, height);
    g.font = "11px ui-monospace, monospace";
    g.textBaseline = "middle";
    if (s.length === 0) return;
    const t0 = s.ts[0]!;
    const t1 = Math.max(s.ts[s.length - 1]!, t0 + 1);
    const x = (t: number) => GUTTER + ((t - t0) / (t1 - t0)) * (w - GUTTER - 8);
    // The table's visible records.
    const visible = model.visible;
    if (visible[0] >= 0) {
      g.fillStyle = "rgba(120,120,120,0.15)";
      const a = x(s.ts[visible[0]]!);
      g.fillRect(a, 0, Math.max(2, x(s.ts[visible[1]]!) - a), height - 14);
    }
    lanes.forEach((l, i) => {
      const y = i * LANE_H;
      g.fillStyle = i % 2 ? "#f7f7f7" : "#fff";
      g.fillRect(0, y, w, LANE_H);
      g.fillStyle = "#333";
      g.fillText(laneLabel(l), 4, y + LANE_H / 2, GUTTER - 8);
      for (const seg of l.segments) {
        const a = x(seg.start);
        const b = seg.end < 0 ? x(t1) : x(seg.end);
        g.fillStyle = KIND_COLOR[l.kind]!;
        g.globalAlpha = Math.min(1, 0.45 + 0.2 * seg.count);
        g.fillRect(a, y + 3, Math.max(2, b - a), LANE_H - 6);
        g.globalAlpha = 1;
        if (b - a > 14) {
          g.fillStyle = "#fff";
          g.fillText(String(seg.count), a + 3, y + LANE_H / 2);
        }
      }
    });
    // Drops: a red bar with the count where they happened.
    g.fillStyle = "#d00";
    s.gaps.forEach((gap, i) => {
      const r = Math.min(s.length - 1, Math.max(0, gap.beforeRow - 1));
      const gx = x(s.ts[r]!);
      g.fillRect(gx - 1, 0, 3, height - 14);
      // Staggered so that neighbouring labels stay readable.
      g.fillText(`${gap.count} dropped`, Math.min(gx + 4, w - 80), height - 22 - (i % 3) * 12);
    });
    if (selected >= 0 && selected < s.length) {
      g.strokeStyle = "#000";
      g.beginPath();
      const sx = x(s.ts[selected]!);
      g.moveTo(sx + 0.5, 0);
      g.lineTo(sx + 0.5, height - 14);
      g.stroke();
    }
    g.fillStyle = "#666";
    g.fillText(`+${seconds(0)}`, GUTTER, height - 7);
    const end = `+${seconds(t1 - t0)}`;
    g.fillText(end, w - 8 - g.measureText(end).width, height - 7);
  });
  const onClick = (e: MouseEvent) => {
    const c = ref.current!;
    const rect = c.getBoundingClientRect();
    const px = e.clientX - rect.left;
    const py = e.clientY - rect.top;
    if (s.length === 0 || px < GUTTER) return;
    const t0 = s.ts[0]!;
    const t1 = Math.max(s.ts[s.length - 1]!, t0 + 1);
    const t = t0 + ((px - GUTTER) / (rect.width - GUTTER - 8)) * (t1 - t0);
    const lane = lanes[Math.floor(py / LANE_H)];
    const seg = lane?.segments.find((g) => g.start <= t && (g.end < 0 || g.end >= t));
    select(seg ? seg.startRow : s.rowAtTime(t));
  };
  return h(
    "section",
    { class: "timeline" },
    h(
      "div",
      { class: "tl-head" },
      `lock ownership: ${lanes.length} lane(s) (handle × lock kind)`,
      lanes.length === 0 ? " — no lock taken yet" : "",
    ),
    h("canvas", {
      ref,
      style: { height: `${height}px` },
      "data-testid": "timeline",
      "data-lanes": lanes.map(laneLabel).join("\n"),
      onClick,
    }),
  );
}

function Field({ k, v }: { k: string; v: ComponentChildren }) {
  return h("tr", null, h("th", null, k), h("td", null, v));
}

function Details({ row, select }: { row: number; select: (row: number) => void }) {
  const s = model.store;
  if (row < 0 || row >= s.length) return h("aside", { class: "details" }, h("em", null, "select a record to see every field"));
  const r = s.record(row);
  const pair = s.pair(row);
  const isIoctl = r.major === 14 || r.major === 13;
  const d = isIoctl ? decodeIoctl(r.ioctlCode) : undefined;
  const head = r.inputHead.length ? r.inputHead : pair >= 0 ? s.head(pair) : r.inputHead;
  const cdb = isIoctl ? cdbText(r.ioctlCode, head) : undefined;
  const out = r.outputHead;
  const completion = isIoctl && out.length ? decodePassThroughCompletion(r.ioctlCode, out) : undefined;
  const t0 = model.t0();
  return h(
    "aside",
    { class: "details", "data-testid": "details" },
    h("h3", null, `seq ${r.seq} · ${kindName(r.kind)}`),
    pair >= 0
      ? h(
          "button",
          { type: "button", class: "pair", "data-testid": "pair-link", onClick: () => select(pair) },
          r.kind === 1
            ? `→ its completion: seq ${s.seq[pair]} (${statusName(s.status[pair]!)}, ${duration(s.duration[pair]!)})`
            : `← its dispatch: seq ${s.seq[pair]}`,
        )
      : r.kind === 1 || r.kind === 2
        ? h("div", { class: "dim" }, "its other half is not in this view's records")
        : null,
    h(
      "table",
      { class: "fields" },
      h(
        "tbody",
        null,
        h(Field, { k: "seq", v: r.seq }),
        h(Field, { k: "kind", v: kindName(r.kind) }),
        h(Field, { k: "requestId", v: r.requestId }),
        h(Field, { k: "timestamp", v: `${r.timestamp} (+${seconds(Number(r.timestamp) - t0)})` }),
        h(Field, { k: "driveId", v: String(r.driveId) }),
        h(Field, { k: "handleId", v: r.handleId }),
        h(Field, { k: "pid / tid", v: `${r.pid} / ${r.tid}` }),
        h(Field, { k: "requestorPid", v: String(r.requestorPid) }),
        h(Field, {
          k: "opener",
          v: h("span", { class: "image", "data-testid": "details-image" }, `${r.openerImage || "?"} (pid ${r.openerPid})`),
        }),
        h(Field, { k: "major / minor", v: `${majorName(r.major)} (${r.major}) / ${r.minor}` }),
        isIoctl ? h(Field, { k: "ioctlCode", v: `${hex32(r.ioctlCode)} ${d?.entry?.name ?? "(not in the catalog)"}` }) : null,
        isIoctl && r.normalizedCode !== r.ioctlCode ? h(Field, { k: "normalizedCode", v: hex32(r.normalizedCode) }) : null,
        h(Field, { k: "input / output", v: `${r.inputLength} / ${r.outputLength} bytes${r.truncated ? " (input head truncated)" : ""}` }),
        h(Field, {
          k: "status",
          v: h("span", { class: statusOk(r.status) ? "ok" : "bad" }, `${statusName(r.status)} (${hex32(r.status)})`),
        }),
        h(Field, { k: "information", v: r.information }),
        h(Field, { k: "duration", v: r.kind === 2 ? `${duration(Number(r.duration))} (${r.duration} × 100 ns)` : r.duration }),
        h(Field, { k: "decision", v: decisionName(r.decision) }),
        h(Field, { k: "reason", v: reasonName(r.reason) }),
        h(Field, { k: "ledger after", v: `secure ${r.secureTotal}, simple ${r.simpleTotal}` }),
        r.countReleased ? h(Field, { k: "countReleased", v: String(r.countReleased) }) : null,
      ),
    ),
    d
      ? h(
          "div",
          { class: "ctl", "data-testid": "ctl-code" },
          h("h4", null, "CTL_CODE"),
          h(
            "table",
            { class: "fields" },
            h(
              "tbody",
              null,
              h(Field, { k: "name", v: d.entry?.name ?? "(unknown)" }),
              h(Field, { k: "device type", v: `0x${d.deviceType.toString(16).toUpperCase()} ${d.deviceTypeName}` }),
              h(Field, { k: "function", v: `0x${d.function.toString(16).toUpperCase()}${d.customFunction ? " (custom)" : ""}` }),
              h(Field, { k: "method", v: d.methodName }),
              h(Field, { k: "access", v: d.accessName }),
              d.aliases.length ? h(Field, { k: "also", v: d.aliases.join(", ") }) : null,
            ),
          ),
        )
      : null,
    cdb ? h("div", { class: "cdb", "data-testid": "cdb" }, h("h4", null, "CDB"), h("div", null, cdb)) : null,
    completion
      ? h(
          "div",
          { class: "cdb", "data-testid": "scsi-completion" },
          h("h4", null, "SCSI status"),
          h("div", null, formatPassThroughCompletion(completion)),
        )
      : null,
    out.length
      ? h(
          "div",
          { class: "bytes" },
          h("h4", null, `captured output (${out.length} bytes${r.outputTruncated ? ", truncated" : ""})`),
          h("pre", { "data-testid": "hexdump-output" }, hexDump(out)),
        )
      : null,
    head.length
      ? h(
          "div",
          { class: "bytes" },
          h("h4", null, `captured input (${head.length} of ${r.inputLength || s.inLen[pair] || head.length} bytes)`),
          h("pre", { "data-testid": "hexdump" }, hexDump(head)),
        )
      : null,
  );
}

model.connect();
render(h(App, null), document.getElementById("app")!);
