/**
 * `cdfilter audit --recording` / `--live` (src/audit, docs/audit.md): the rules over a recording of
 * the demo scenario, the rules file (schema errors naming line and key, per-image overrides,
 * thresholds), and JUnit XML valid against a schema of the Jenkins xUnit plugin's junit-10.xsd
 * structure (test/junit/junit-10.xsd) with xmllint (Debian libxml2-utils; under CI=true a missing
 * xmllint fails).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RulesError, parseRules, rulesFor } from "../src/audit/rules.ts";

const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "bin", "cdfilter.js");
const dir = mkdtempSync(join(tmpdir(), "cdfilter-audit-rec-"));
const recording = join(dir, "demo.pcapng");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (args: string[]) => spawnSync(process.execPath, [BIN, "--no-color", ...args], { encoding: "utf8", cwd: ROOT });

type Rule = { rule: string; verdict: string; count: number; value?: number; findings: { text: string; seq: string }[] };
type Proc = { image: string; pid: number; rules: Rule[]; requests: { name: string }[] };
const verdicts = (doc: { processes: Proc[] }) =>
  Object.fromEntries(
    doc.processes.map((p) => [
      `${p.image}:${p.pid}`,
      Object.fromEntries(p.rules.filter((r) => r.verdict !== "pass").map((r) => [r.rule, r.verdict])),
    ]),
  );

beforeAll(() => {
  const r = cli(["record", "--out", recording, "--scenario", join(ROOT, "scenarios", "demo.yaml")]);
  expect(r.status, r.stderr).toBe(0);
}, 60_000);

describe("audit --recording", () => {
  it("judges the demo scenario's recording per process and rule; exit 1 when a finding fails", () => {
    const json = join(dir, "v.json");
    const r = cli(["audit", "--recording", recording, "--timeline", "--json-out", json]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/eject-under-lock .*FAIL .*under the lock of burner\.exe \(pid 4100\)/);
    expect(r.stdout).toContain("Lock ownership");
    const doc = JSON.parse(readFileSync(json, "utf8")) as { processes: Proc[]; failed: number };
    expect(verdicts(doc)).toEqual({
      "burner.exe:4100": {},
      "player.exe:4200": { "foreign-secure-unlock": "fail", "eject-under-lock": "fail" },
      "backup.exe:4300": { "secure-lock-not-released": "fail" },
      "ripper.exe:4400": { "simple-lock-leaked": "fail", "passthrough-bypass": "fail", denied: "warn" },
    });
    expect(doc.failed).toBe(5);
    const burner = doc.processes.find((p) => p.pid === 4100)!;
    expect(burner.rules.find((x) => x.rule === "hold-time")!.value).toBeGreaterThan(0);
  });

  it("a rules file changes severities per image and thresholds; all ignored gives exit 0", () => {
    const rules = join(dir, "lenient.yaml");
    writeFileSync(
      rules,
      [
        "version: 1",
        "rules: { foreign-secure-unlock: warn, eject-under-lock: warn, secure-lock-not-released: ignore }",
        "thresholds: { max-hold-seconds: 0 }",
        "images:",
        '  - match: "RIPPER*"',
        "    rules: { simple-lock-leaked: ignore, passthrough-bypass: ignore, denied: ignore }",
        "",
      ].join("\n"),
    );
    const json = join(dir, "lenient.json");
    const r = cli(["audit", "--recording", recording, "--rules", rules, "--json-out", json]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const v = verdicts(JSON.parse(readFileSync(json, "utf8")) as { processes: Proc[] });
    expect(v["player.exe:4200"]).toMatchObject({ "foreign-secure-unlock": "warn", "eject-under-lock": "warn" });
    expect(v["backup.exe:4300"]).toMatchObject({ "secure-lock-not-released": "ignored" });
    expect(v["ripper.exe:4400"]).toMatchObject({ "simple-lock-leaked": "ignored", denied: "ignored" });
    // max-hold-seconds 0: every lock holder gets a hold-time warning.
    expect(v["burner.exe:4100"]).toEqual({ "hold-time": "warn" });
  });

  it("reads the same trace as JSON Lines", () => {
    const jsonl = join(dir, "demo.jsonl");
    expect(cli(["export", recording, "--jsonl", jsonl]).status).toBe(0);
    const a = cli(["--json", "audit", "--recording", jsonl]);
    const b = cli(["--json", "audit", "--recording", recording]);
    expect(a.status).toBe(1);
    expect(verdicts(JSON.parse(a.stdout))).toEqual(verdicts(JSON.parse(b.stdout)));
  });

  it("--live on the simulator plays the scenario and audits its trace", () => {
    const r = cli(["--json", "audit", "--live", "--scenario", join(ROOT, "scenarios", "demo.yaml")]);
    expect(r.status, r.stderr).toBe(1);
    expect(verdicts(JSON.parse(r.stdout))["backup.exe:4300"]).toEqual({ "secure-lock-not-released": "fail" });
  });

  it("the scenario form still works and the two forms are not mixed", () => {
    expect(cli(["audit", join(ROOT, "scenarios", "demo.yaml")]).status).toBe(0);
    const r = cli(["audit", join(ROOT, "scenarios", "demo.yaml"), "--recording", recording]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/either a scenario file or --recording/);
  });

  it("JUnit: one testcase per process x rule, valid against the junit-10.xsd structure (xmllint)", () => {
    const have = spawnSync("xmllint", ["--version"], { stdio: "ignore" }).status === 0;
    if (!have) {
      if (process.env.CI === "true") throw new Error("xmllint missing (Debian: libxml2-utils)");
      console.warn("audit.recording.test.ts: xmllint not installed (Debian: libxml2-utils); schema check not run");
      return;
    }
    const xml = join(dir, "v.xml");
    cli(["audit", "--recording", recording, "--junit-out", xml]);
    const text = readFileSync(xml, "utf8");
    expect(text.match(/<testcase /g)).toHaveLength(4 * 9);
    expect(text.match(/<failure /g)).toHaveLength(5);
    expect(text).not.toMatch(/<testcase[^>]* (file|line)=/);
    const v = spawnSync("xmllint", ["--noout", "--schema", join(ROOT, "test", "junit", "junit-10.xsd"), xml], { encoding: "utf8" });
    expect(v.status, v.stderr).toBe(0);
    // The schema rejects what junit-10.xsd rejects: a file attribute on a testcase.
    writeFileSync(join(dir, "bad.xml"), text.replace("<testcase ", '<testcase file="x.ts" '));
    expect(
      spawnSync("xmllint", ["--noout", "--schema", join(ROOT, "test", "junit", "junit-10.xsd"), join(dir, "bad.xml")]).status,
    ).not.toBe(0);
  });
});

describe("rules file", () => {
  const bad = (text: string) => {
    try {
      parseRules(text, "r.yaml");
    } catch (e) {
      expect(e).toBeInstanceOf(RulesError);
      return (e as Error).message;
    }
    throw new Error("accepted");
  };

  it("errors name the file, the line and the key", () => {
    expect(bad("version: 1\nrules:\n  eject-under-lok: fail\n")).toMatch(
      /^r\.yaml:3: unknown key "eject-under-lok" in "rules" \(rules: secure-lock-not-released/,
    );
    expect(bad("version: 1\nrules:\n  denied: maybe\n")).toBe('r.yaml:3: "rules.denied" must be one of fail, warn, ignore');
    expect(bad("version: 2\n")).toMatch(/^r\.yaml:1: "version" must be 1/);
    expect(bad("rules: {}\n")).toMatch(/^r\.yaml:1: missing key "version"/);
    expect(bad("version: 1\nimages:\n  - rules: { denied: warn }\n")).toMatch(/^r\.yaml:3: missing key "match"/);
    expect(bad("version: 1\nthresholds:\n  max-hold-seconds: -1\n")).toMatch(/^r\.yaml:3: "thresholds.max-hold-seconds" must be >= 0/);
    expect(bad("version: 1\nrules: [\n")).toMatch(/^r\.yaml:\d+: not valid YAML/);
  });

  it("the first matching image entry overrides the defaults (case-insensitive, * wildcard)", () => {
    const cfg = parseRules(
      'version: 1\nrules: { denied: fail }\nthresholds: { max-denied: 2 }\nimages:\n  - match: "mci*.EXE"\n    rules: { denied: ignore }\n    thresholds: { max-denied: 5 }\n  - match: "*"\n    rules: { denied: warn }\n',
      "r.yaml",
    );
    expect(rulesFor(cfg, "mcidoor.exe")).toMatchObject({ rules: { denied: "ignore" }, thresholds: { maxDenied: 5 } });
    expect(rulesFor(cfg, "node.exe")).toMatchObject({ rules: { denied: "warn" }, thresholds: { maxDenied: 2 } });
  });

  it("the CLI reports a bad rules file as bad input (exit 3)", () => {
    const f = join(dir, "bad-rules.yaml");
    writeFileSync(f, "version: 1\nrules:\n  nope: fail\n");
    const r = cli(["audit", "--recording", recording, "--rules", f]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/bad-rules\.yaml:3: unknown key "nope"/);
  });
});
