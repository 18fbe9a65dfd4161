// Code generator entry point: `npx tsx src/codegen/main.ts` regenerates every target;
// `--check` regenerates in memory and exits 1 listing each file that differs from the tree.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadPackage, SchemaError } from "./model.ts";
import type { PackageModel } from "./model.ts";
import { emitHeader, emitSource, emitReflect } from "./c_emitter.ts";
import type { CNames } from "./c_emitter.ts";
import { emitTs } from "./ts_emitter.ts";
import { emitIoctlHeader, emitIoctlTable, emitIoctlTs } from "./ioctl_emitter.ts";

export interface Target {
  /** Import paths of the .proto files (relative to an include directory). */
  protos: string[];
  /** Include directories, relative to the repository root. */
  includeDirs: string[];
  /** C prefix ("cdf") and file base name ("cdfilter"). */
  prefix: string;
  base: string;
  cDir: string;
  tsDir: string;
  /** Base name of the TS messages module (cdfilter -> cdfilter.ts). */
  tsBase: string;
  /** Also emit <base>_ioctl.h / <base>_ioctl.ts from the package's services. */
  ioctl: boolean;
}

export const TARGETS: Target[] = [
  {
    protos: ["cdfilter/trace.proto", "cdfilter/control.proto"],
    includeDirs: ["proto"],
    prefix: "cdf",
    base: "cdfilter",
    cDir: "driver/core/gen",
    tsDir: "src/client/gen",
    tsBase: "cdfilter",
    ioctl: true,
  },
  {
    protos: ["conformance.proto"],
    includeDirs: ["test/proto", "proto"],
    prefix: "conf",
    base: "conf",
    cDir: "test/gen",
    tsDir: "test/gen",
    tsBase: "conf",
    ioctl: false,
  },
];

const WIRE_TS = "src/client/wire.ts";

function relImport(fromDir: string, to: string): string {
  const r = relative(fromDir, to).split("\\").join("/");
  return r.startsWith(".") ? r : `./${r}`;
}

/** Every generated file of one target, keyed by repository-relative path. */
export function generateTarget(root: string, t: Target): Map<string, string> {
  const includeDirs = t.includeDirs.map((d) => resolve(root, d));
  const pkg: PackageModel = loadPackage({ files: t.protos, includeDirs, displayRoot: root });
  const sources = t.protos.map((p) => {
    const dir = t.includeDirs.find((d) => existsSync(resolve(root, d, p))) ?? t.includeDirs[0]!;
    return `${dir}/${p}`;
  });
  const names: CNames = { prefix: t.prefix, base: t.base, sources };
  const files = new Map<string, string>();
  const withIoctl = t.ioctl && pkg.rpcs.length > 0;
  let source = emitSource(names, pkg, withIoctl ? [`${t.base}_ioctl.h`] : []);
  if (withIoctl) source += emitIoctlTable(names, pkg);
  files.set(`${t.cDir}/${t.base}.pb.h`, emitHeader(names, pkg));
  files.set(`${t.cDir}/${t.base}.pb.c`, source);
  files.set(`${t.cDir}/${t.base}_reflect.c`, emitReflect(names, pkg));
  const wire = relImport(t.tsDir, WIRE_TS);
  files.set(`${t.tsDir}/${t.tsBase}.ts`, emitTs(pkg, sources, wire));
  if (withIoctl) {
    files.set(`${t.cDir}/${t.base}_ioctl.h`, emitIoctlHeader(names, pkg));
    files.set(`${t.tsDir}/${t.tsBase}_ioctl.ts`, emitIoctlTs(pkg, sources, `./${t.tsBase}.ts`, wire));
  }
  return files;
}

export function generateAll(root: string, targets: Target[] = TARGETS): Map<string, string> {
  const all = new Map<string, string>();
  for (const t of targets) for (const [k, v] of generateTarget(root, t)) all.set(k, v);
  return all;
}

function main(argv: string[]): number {
  const check = argv.includes("--check");
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
  let files: Map<string, string>;
  try {
    files = generateAll(root);
  } catch (e) {
    if (e instanceof SchemaError) {
      process.stderr.write(`codegen: schema rejected:\n${e.problems.map((p) => `  ${p}`).join("\n")}\n`);
      return 2;
    }
    throw e;
  }
  if (check) {
    const stale: string[] = [];
    for (const [path, text] of files) {
      const abs = join(root, path);
      const cur = existsSync(abs) ? readFileSync(abs, "utf8") : undefined;
      if (cur !== text) stale.push(cur === undefined ? `${path} (missing)` : path);
    }
    if (stale.length) {
      process.stderr.write(
        `codegen --check: generated files differ from the schema; run \`npm run codegen\`:\n${stale.map((s) => `  ${s}`).join("\n")}\n`,
      );
      return 1;
    }
    process.stdout.write(`codegen --check: ${files.size} generated files up to date\n`);
    return 0;
  }
  for (const [path, text] of files) {
    const abs = join(root, path);
    mkdirSync(dirname(abs), { recursive: true });
    const cur = existsSync(abs) ? readFileSync(abs, "utf8") : undefined;
    if (cur !== text) writeFileSync(abs, text);
  }
  process.stdout.write(`codegen: ${files.size} files generated\n`);
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
