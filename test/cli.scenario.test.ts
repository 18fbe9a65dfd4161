// Scenario format (src/scenario/): what a good file parses to, and that every error names
// the file, line and column, and inside `steps` the step number and what it does.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SCENARIO_VOCABULARY } from "../src/cli/context.ts";
import { ScenarioError, parseScenario } from "../src/scenario/index.ts";

const HEAD = `name: t
processes:
  burner: { pid: 4100, image: burner.exe }
  player: {}
steps:
`;

function err(text: string): ScenarioError {
  try {
    parseScenario(text, "s.yaml", SCENARIO_VOCABULARY);
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return e as ScenarioError;
  }
  throw new Error("expected a ScenarioError");
}

describe("scenario parser", () => {
  it("parses the built-in demo and the examples", () => {
    for (const f of ["scenarios/demo.yaml", "scenarios/burner-holds.yaml", "scenarios/two-drives.yaml"]) {
      const s = parseScenario(readFileSync(f, "utf8"), f, SCENARIO_VOCABULARY);
      expect(s.steps.length).toBeGreaterThan(1);
    }
    const demo = parseScenario(readFileSync("scenarios/demo.yaml", "utf8"), "demo.yaml", SCENARIO_VOCABULARY);
    expect([...demo.processes.keys()]).toEqual(["burner", "player", "backup", "ripper"]);
    const crash = demo.steps.find((s) => s.verb === "crash")!;
    expect(crash.expect).toEqual({ released: 1, secure: 1, owner: "burner", reason: "PROCESS_EXIT" });
  });

  it("fills defaults: pids, images, drive, handle, repeat; owner none; REASON_ prefix dropped", () => {
    const s = parseScenario(
      HEAD +
        `  - player: read 4096 2048
    repeat: 4
    expect: { status: STATUS_SUCCESS }
  - system: policy enforce
  - player: unlock
    drive: 1
    handle: second
    expect: { status: 0xc0000184, owner: none, reason: REASON_FOREIGN_SECURE_UNLOCK, decision: DENY }
`,
      "s.yaml",
      SCENARIO_VOCABULARY,
    );
    expect(s.processes.get("player")).toEqual({ name: "player", pid: 4200, image: "player.exe" });
    const [read, policy, unlock] = s.steps;
    expect(read).toMatchObject({
      index: 1,
      line: 6,
      actor: "player",
      verb: "read",
      args: ["4096", "2048"],
      drive: 1,
      driveGiven: false,
      handle: "main",
      repeat: 4,
    });
    expect(policy).toMatchObject({ actor: "system", verb: "policy", args: ["enforce"], label: "system policy enforce" });
    expect(unlock).toMatchObject({ drive: 1, driveGiven: true, handle: "second" });
    expect(unlock!.expect).toEqual({ status: "0xC0000184", owner: null, reason: "FOREIGN_SECURE_UNLOCK", decision: "DENY" });
  });

  it("a bad YAML line is named", () => {
    const e = err(HEAD + `  - burner: lock\n    expect: { status: STATUS_SUCCESS\n  - player: eject\n`);
    expect(e.message).toMatch(/^s\.yaml:\d+:\d+: invalid YAML/);
    expect(e.line).toBeGreaterThanOrEqual(7);
    expect(e.exitCode).toBe(3);
  });

  it("an unknown process names line, column and step", () => {
    const e = err(
      HEAD + `  - burner: lock\n    expect: { status: STATUS_SUCCESS }\n  - plyer: eject\n    expect: { status: STATUS_SUCCESS }\n`,
    );
    expect(e.message).toBe('s.yaml:8:5: step 2: unknown process "plyer" (declared: burner, player)');
    expect(e.hint).toMatch(/processes/);
  });

  it("an unknown step verb names line and step and lists the verbs", () => {
    const e = err(HEAD + `  - burner: lock\n    expect: { status: STATUS_SUCCESS }\n  - burner: yank\n`);
    expect(e.message).toMatch(/^s\.yaml:8:13: step 2: unknown step verb "yank" for a process \(expected one of: open, close, lock, /);
    const s = err(HEAD + `  - system: reboot\n`);
    expect(s.message).toMatch(/^s\.yaml:6:13: step 1: unknown step verb "reboot" for system/);
  });

  it("a missing expectation field names the step and what it does", () => {
    const e = err(HEAD + `  - burner: lock\n    expect: { secure: 1 }\n`);
    expect(e.message).toBe(
      's.yaml:7:13: step 1 (burner lock): missing expectation field "status" (the NTSTATUS lock must complete with, e.g. STATUS_SUCCESS)',
    );
    const none = err(HEAD + `  - burner: eject\n`);
    expect(none.message).toMatch(/^s\.yaml:6:5: step 1 \(burner eject\): missing expectation field "status"/);
  });

  it("unknown expectation fields, names and values are refused with their position", () => {
    expect(err(HEAD + `  - burner: lock\n    expect: { status: STATUS_SUCCESS, colour: red }\n`).message).toMatch(
      /^s\.yaml:7:39: step 1 \(burner lock\): unknown expectation field "colour"/,
    );
    expect(err(HEAD + `  - burner: lock\n    expect: { status: STATUS_SUCCES }\n`).message).toMatch(
      /7:23: step 1 \(burner lock\): unknown NTSTATUS name "STATUS_SUCCES"/,
    );
    expect(err(HEAD + `  - burner: lock\n    expect: { status: STATUS_SUCCESS, owner: nobody }\n`).message).toMatch(
      /unknown process "nobody"/,
    );
    expect(err(HEAD + `  - burner: lock\n    expect: { status: STATUS_SUCCESS, reason: BECAUSE }\n`).message).toMatch(
      /unknown reason "BECAUSE"/,
    );
    expect(err(HEAD + `  - burner: lock\n    expect: { status: STATUS_SUCCESS, secure: -1 }\n`).message).toMatch(
      /expect\.secure must be an integer from 0/,
    );
    expect(err(HEAD + `  - burner: lock\n    drive: 3\n    expect: { status: STATUS_SUCCESS }\n`).message).toMatch(
      /7:12: step 1 \(burner lock\): drive must be an integer from 1 to 1/,
    );
    expect(err(HEAD + `  - burner: read x\n    expect: { status: STATUS_SUCCESS }\n`).message).toMatch(
      /"read" offset and length are byte counts/,
    );
    expect(err(HEAD + `  - system: policy strict\n`).message).toMatch(/policy must be observe or enforce, not "strict"/);
  });

  it("top-level mistakes are named", () => {
    expect(err(`processes: {}\nsteps: []\nextra: 1\n`).message).toBe(
      's.yaml:3:1: unknown top-level key "extra" (expected one of: name, description, drives, policy, processes, steps)',
    );
    expect(err(`steps:\n  - a: lock\n`).message).toMatch(/^s\.yaml:1:1: missing `processes`/);
    expect(err(`processes:\n  a: {}\n  b: { pid: 4100 }\nsteps:\n  - a: open\n`).message).toMatch(
      /process "b" has the same pid 4100 as "a"/,
    );
    expect(err(`processes:\n  a: {}\nsteps:\n  - a: open\n    b: open\n`).message).toMatch(/5:5: step 1: unknown step key "b"/);
    expect(err(`- just\n- a list\n`).message).toMatch(/must be a mapping/);
  });
});
