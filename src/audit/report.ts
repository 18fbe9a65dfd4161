/**
 * Audit report forms (docs/audit.md): the verdict table (text), a JSON document, and JUnit XML
 * with one testcase per process x rule, valid against the Jenkins xUnit plugin's junit-10.xsd
 * (testsuites > testsuite > testcase; no file/line attributes on testcase) and read by GitLab.
 * fail -> <failure>, warn -> passed with the finding in <system-out>, ignored -> <skipped>.
 */
import type { Colors } from "../cli/output.ts";
import { renderTable } from "../cli/output.ts";
import type { AuditReport, ProcessVerdict, RuleVerdict } from "./engine.ts";

export interface ReportContext {
  source: string;
  host?: string;
  instance?: string;
  startedAt: Date;
  durationMs: number;
  torn: number;
}

const who = (p: ProcessVerdict) => (p.image === "(trace)" ? "(trace)" : `${p.image || "?"} (pid ${p.pid})`);

function detail(v: RuleVerdict): string {
  if (v.findings.length === 0) return v.value !== undefined ? `longest hold ${v.value} s` : "";
  const first = v.findings[0]!;
  return `${first.text} [seq ${first.seq}]${v.findings.length > 1 ? ` (+${v.findings.length - 1} more)` : ""}`;
}

/** Lines of the text report: findings table, per-process requests, summary. */
export function renderAudit(r: AuditReport, c: Colors): string[] {
  const lines: string[] = [];
  const rows: string[][] = [];
  for (const p of r.processes)
    for (const v of p.rules) {
      if (v.verdict === "pass") continue;
      const mark = v.verdict === "fail" ? c.bold(c.red("FAIL")) : v.verdict === "warn" ? c.yellow("WARN") : c.dim("ignored");
      rows.push([who(p), v.rule, String(v.count), mark, detail(v)]);
    }
  if (rows.length)
    lines.push(renderTable(["process", "rule", "n", "verdict", "first finding"], rows, c, ["left", "left", "right", "left", "left"]));
  else lines.push(c.green("no findings"));
  lines.push("");
  lines.push(c.bold("Processes"));
  for (const p of r.processes) {
    if (p.image === "(trace)") continue;
    const fails = p.rules.filter((v) => v.verdict === "fail").length;
    const warns = p.rules.filter((v) => v.verdict === "warn").length;
    const verdict = fails ? c.red(`${fails} rule(s) failed`) : warns ? c.yellow(`${warns} warning(s)`) : c.green("all rules pass");
    lines.push(`  ${who(p)}: ${p.handles.length} handle(s), ${verdict}`);
    for (const q of p.requests) {
      const st = Object.entries(q.statuses)
        .map(([k, n]) => (n > 1 ? `${k} x${n}` : k))
        .join(", ");
      lines.push(c.dim(`    ${q.name} x${q.count}: ${st}`));
    }
  }
  const summary = `${r.processes.filter((p) => p.image !== "(trace)").length} process(es), ${r.records} record(s)${r.dropped ? `, ${r.dropped} dropped` : ""}: ${r.failed} rule(s) failed, ${r.warned} warning(s)`;
  lines.push(r.failed ? c.bold(c.red(summary)) : c.bold(c.green(summary)));
  return lines;
}

export function auditReportJson(r: AuditReport, ctx: ReportContext): unknown {
  return {
    source: ctx.source,
    ...(ctx.host ? { host: ctx.host } : {}),
    ...(ctx.instance ? { instance: ctx.instance } : {}),
    ...(r.rulesFile ? { rules: r.rulesFile } : {}),
    records: r.records,
    dropped: r.dropped,
    tornTails: ctx.torn,
    failed: r.failed,
    warned: r.warned,
    processes: r.processes.map((p) => ({
      image: p.image,
      pid: p.pid,
      handles: p.handles,
      requests: p.requests,
      rules: p.rules.map((v) => ({
        rule: v.rule,
        severity: v.severity,
        verdict: v.verdict,
        count: v.count,
        ...(v.value !== undefined ? { value: v.value } : {}),
        findings: v.findings,
      })),
    })),
    spans: r.timeline.spans,
  };
}

function xml(s: string): string {
  // Characters XML 1.0 forbids are dropped; the five specials escaped.
  return s
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, "")
    .replace(/[<>&"']/g, (ch) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[ch]!);
}

/** JUnit XML: one testsuite per process, one testcase per rule. */
export function auditReportJunit(r: AuditReport, ctx: ReportContext): string {
  const secs = (ms: number) => (ms / 1000).toFixed(3);
  const ts = ctx.startedAt.toISOString().replace(/\.\d+Z$/, "");
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;
  for (const p of r.processes) {
    const cls = `cdfilter.audit.${(p.image || "unknown").replace(/[^A-Za-z0-9_]/g, "_")}.pid${p.pid}`;
    const cases = p.rules.map((v) => {
      const head = `      <testcase name="${xml(v.rule)}" classname="${xml(cls)}" time="0">`;
      const body: string[] = [];
      if (v.verdict === "fail") {
        const msg = v.findings.map((f) => `seq ${f.seq}: ${f.text}`).join("\n");
        body.push(`        <failure message="${xml(detail(v))}" type="${xml(v.rule)}">${xml(msg)}</failure>`);
      } else if (v.verdict === "ignored") body.push(`        <skipped message="${xml(`ignored by the rules file: ${detail(v)}`)}"/>`);
      else if (v.verdict === "warn" || v.value !== undefined)
        body.push(
          `        <system-out>${xml(`${v.verdict === "warn" ? "warning: " : ""}${v.findings.map((f) => `seq ${f.seq}: ${f.text}`).join("\n") || detail(v)}`)}</system-out>`,
        );
      return body.length ? `${head}\n${body.join("\n")}\n      </testcase>` : `${head}</testcase>`;
    });
    const f = p.rules.filter((v) => v.verdict === "fail").length;
    const skipped = p.rules.filter((v) => v.verdict === "ignored").length;
    tests += p.rules.length;
    failures += f;
    suites.push(
      `  <testsuite name="${xml(`${who(p)}`)}" tests="${p.rules.length}" failures="${f}" errors="0" skipped="${skipped}" time="0" timestamp="${ts}"${ctx.host ? ` hostname="${xml(ctx.host)}"` : ""}>\n${cases.join("\n")}\n  </testsuite>`,
    );
  }
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="${xml(`cdfilter audit ${ctx.source}`)}" tests="${tests}" failures="${failures}" errors="0" time="${secs(ctx.durationMs)}">`,
    ...suites,
    `</testsuites>`,
    ``,
  ].join("\n");
}
