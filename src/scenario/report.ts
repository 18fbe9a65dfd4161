/**
 * Reports of a scenario run (runner.ts): the one-line summary of a verdict, the JSON document
 * (docs/cli.md, "Audit reports") and JUnit XML (one testsuite per scenario, one testcase per step).
 */
import type { AuditResult, StepVerdict } from "./runner.ts";

export function verdictSummary(v: StepVerdict): { expected: string; actual: string } {
  const expected = v.checks.map((c) => (c.field === "status" ? c.expected : `${c.field}=${c.expected}`));
  const actual = v.checks.map((c) => (c.field === "status" ? c.actual : `${c.field}=${c.actual}`));
  if (v.error) actual.push(`error: ${v.error}`);
  else if (!v.checks.length && v.status) actual.push(v.status);
  return { expected: expected.join(", ") || "-", actual: actual.join(", ") || "done" };
}

/** The audit result as a JSON document (docs/cli.md, "Audit reports"). */
export function auditJson(res: AuditResult, transport: string): unknown {
  return {
    scenario: { name: res.scenario.name, file: res.scenario.file, description: res.scenario.description },
    transport,
    startedAt: res.startedAt.toISOString(),
    durationMs: Math.round(res.durationMs * 1000) / 1000,
    passed: res.passed,
    failed: res.failed,
    steps: res.verdicts.map((v) => ({
      index: v.step.index,
      line: v.step.line,
      label: v.step.label,
      ...(v.step.note ? { note: v.step.note } : {}),
      passed: v.passed,
      ...(v.status ? { status: v.status } : {}),
      checks: v.checks,
      ...(v.error ? { error: v.error } : {}),
      records: { afterSeq: String(v.seqAfter), throughSeq: String(v.seqThrough) },
      durationMs: Math.round(v.durationMs * 1000) / 1000,
    })),
  };
}

/** The audit result as JUnit XML: one testsuite per scenario, one testcase per step. */
export function auditJunit(res: AuditResult): string {
  const name = res.scenario.name;
  const secs = (ms: number) => (ms / 1000).toFixed(6);
  const cases = res.verdicts.map((v) => {
    const head = `    <testcase classname="${xml(name)}" name="${xml(`step ${v.step.index}: ${v.step.label}`)}" file="${xml(res.scenario.file)}" line="${v.step.line}" time="${secs(v.durationMs)}"`;
    if (v.passed) return `${head}/>`;
    if (v.error) {
      return `${head}>\n      <error message="${xml(v.error)}" type="step-error">${xml(v.error)}</error>\n    </testcase>`;
    }
    const bad = v.checks.filter((c) => !c.ok);
    const msg = bad.map((c) => `${c.field}: expected ${c.expected}, got ${c.actual}`).join("; ");
    return `${head}>\n      <failure message="${xml(msg)}" type="expectation">${xml(msg)}</failure>\n    </testcase>`;
  });
  const errors = res.verdicts.filter((v) => v.error).length;
  const failures = res.failed - errors;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="cdfilter audit" tests="${res.verdicts.length}" failures="${failures}" errors="${errors}" time="${secs(res.durationMs)}">`,
    `  <testsuite name="${xml(name)}" tests="${res.verdicts.length}" failures="${failures}" errors="${errors}" skipped="0" time="${secs(res.durationMs)}" timestamp="${res.startedAt.toISOString().replace(/\.\d+Z$/, "")}">`,
    ...cases,
    `  </testsuite>`,
    `</testsuites>`,
    ``,
  ].join("\n");
}

function xml(s: string): string {
  // Characters XML 1.0 forbids are dropped; the five specials escaped.
  // eslint-disable-next-line no-control-regex
  return s
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, "")
    .replace(/[<>&"']/g, (ch) => (ch === "<" ? "&lt;" : ch === ">" ? "&gt;" : ch === "&" ? "&amp;" : ch === '"' ? "&quot;" : "&apos;"));
}
