/**
 * The scenario engine: the format (format.ts), its parser (parse/), the runner (runner.ts) that
 * plays a scenario in a ScenarioWorld (world.ts: SimulatorWorld or, under Wine, ActorWorld) and
 * the reports (report.ts). docs/cli.md, "Scenario format", describes the files.
 */
export * from "./format.ts";
export { parseScenario } from "./parse/index.ts";
export { readScenarioFile } from "./read.ts";
export { type AuditResult, type Check, type RunHooks, runScenario, type StepVerdict } from "./runner.ts";
export { auditJson, auditJunit, verdictSummary } from "./report.ts";
export { SimulatorWorld } from "./simulator-world.ts";
export type { DriveActions, ScenarioWorld, WorldHardware, WorldProcess } from "./world.ts";
