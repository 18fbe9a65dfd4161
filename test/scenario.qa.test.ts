// The scenario verbs of the simulator's QA surface (docs/cli.md "Scenario format"): parse
// errors for their arguments, and scenarios/qa-surface.yaml played on the simulator with every
// expectation passing (statuses, ledger, the commands that reached the drive).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SCENARIO_VOCABULARY } from "../src/cli/context.ts";
import { FilterClient } from "../src/client/client.ts";
import { ScenarioError, parseScenario, runScenario } from "../src/scenario/index.ts";
import { SimulatorWorld } from "../src/scenario/simulator-world.ts";

const HEAD = `name: t
processes:
  burner: { pid: 4100, image: burner.exe }
steps:
`;

function parseError(steps: string): string {
  try {
    parseScenario(HEAD + steps, "s.yaml", SCENARIO_VOCABULARY);
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return (e as Error).message;
  }
  throw new Error("expected a ScenarioError");
}

describe("QA scenario verbs", () => {
  it("checks their arguments", () => {
    expect(parseError("  - system: fail-command allow\n")).toMatch(/step 1 .*"fail-command" takes KIND NTH STATUS/);
    expect(parseError("  - system: fail-command unplug 1 STATUS_IO_DEVICE_ERROR\n")).toMatch(/unknown command kind "unplug"/);
    expect(parseError("  - system: fail-command allow 0 STATUS_IO_DEVICE_ERROR\n")).toMatch(/NTH is a count from 1/);
    expect(parseError("  - system: no-file format\n    expect: { status: STATUS_SUCCESS }\n")).toMatch(/"no-file" sends one of/);
    expect(parseError("  - system: no-file lock\n")).toMatch(/missing expectation field "status"/);
    expect(parseError("  - burner: lock\n    expect: { status: STATUS_SUCCESS, commands: [unplug] }\n")).toMatch(
      /unknown command kind "unplug"/,
    );
    expect(parseError("  - burner: duplicate\n")).toMatch(/"duplicate" takes LABEL \[PROCESS\]/);
  });

  it("plays scenarios/qa-surface.yaml on the simulator with every expectation met", async () => {
    const file = "scenarios/qa-surface.yaml";
    const scenario = parseScenario(readFileSync(file, "utf8"), file, SCENARIO_VOCABULARY);
    const client = await FilterClient.connect({ transport: "simulator", simulator: { drives: scenario.drives } });
    try {
      const world = new SimulatorWorld(client, client.simulator!);
      const result = await runScenario(client, scenario, world);
      const failed = result.verdicts.filter((v) => !v.passed).map((v) => `${v.step.label}: ${v.error ?? JSON.stringify(v.checks)}`);
      expect(failed).toEqual([]);
      expect(result.passed).toBe(scenario.steps.length);
    } finally {
      await client.close();
    }
  });
});
