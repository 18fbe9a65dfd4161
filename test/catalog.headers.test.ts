// Every value the client library names is checked against the mingw-w64 headers (winioctl.h,
// ntddstor.h, ntddcdrm.h, ntddscsi.h, ntddcdvd.h, ntdddisk.h, ddk/mountmgr.h,
// ddk/mountdev.h, ntstatus.h, winerror.h): the test writes a C program that
// prints each macro (or MISSING when the header lacks it), compiles it with
// x86_64-w64-mingw32-gcc and runs it under Wine in a private WINEPREFIX under build/.
// - A catalog entry whose macro mingw-w64 lacks must name its source (CatalogEntry.source);
//   an entry that names a source must really be missing from mingw-w64.
// - Our control IOCTLs are checked as CTL_CODE(device type, function, method, access) of the
//   mingw-w64 macro and against the generated driver/core/gen/cdfilter_ioctl.h.
// - Struct sizes and offsets the library hard-codes (FSCTL buffers, USN, SCSI_PASS_THROUGH,
//   PREVENT_MEDIA_REMOVAL) are checked with sizeof/offsetof.
// Under CI=true a missing tool fails the test; elsewhere the test is reported as skipped with
// the missing tools named.
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DEVICE_TYPES, IOCTL_ALIASES, IOCTL_CATALOG } from "../src/client/catalog.ts";
import { SCSI_PASS_THROUGH_OFFSETS, SCSI_PASS_THROUGH_SIZE } from "../src/client/drive.ts";
import { FILE_MAKE_COMPATIBLE_BUFFER_SIZE, FILE_SET_DEFECT_MGMT_BUFFER_SIZE, USN_SIZE } from "../src/client/fsctl.ts";
import { NTSTATUS, WIN32_ERROR } from "../src/client/ntstatus.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, "build", "catalog-headers");
const PREFIX = join(OUT, "wineprefix");
const GEN_IOCTL_H = join(ROOT, "driver", "core", "gen", "cdfilter_ioctl.h");
const CI = process.env.CI === "true";
const TOOLS = ["x86_64-w64-mingw32-gcc", "wine", "wineserver"];

function hasTool(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status === 0;
}
const missingTools = TOOLS.filter((t) => !hasTool(t));
if (missingTools.length > 0 && !CI) {
  console.warn(`catalog.headers.test: skipped, missing ${missingTools.join(", ")} (a failure under CI=true)`);
}

interface Check {
  /** Label printed by the C program and used in assertions. */
  key: string;
  expected: number;
  /** C expression; evaluated only when `ifdef` is defined (or always when absent). */
  expr: string;
  ifdef?: string;
  /** Mingw must define it (no documented other source). */
  required: boolean;
}

const checks: Check[] = [];
const cdfEntries = IOCTL_CATALOG.filter((e) => e.group === "cdfilter");
for (const e of IOCTL_CATALOG) {
  if (e.group === "cdfilter") continue;
  checks.push({ key: e.name, expected: e.code, expr: e.name, ifdef: e.name, required: e.source === undefined });
}
for (const e of cdfEntries) {
  const ctl = `CTL_CODE(0x${e.deviceType.toString(16)}, 0x${e.function.toString(16)}, ${e.method}, ${e.access})`;
  checks.push({ key: `${e.name}:CTL_CODE`, expected: e.code, expr: ctl, required: true });
  const macro = e.name.replace(/^IOCTL_CDFILTER_/, "CDF_IOCTL_");
  checks.push({ key: `${e.name}:${macro}`, expected: e.code, expr: macro, ifdef: macro, required: true });
}
for (const [value, name] of DEVICE_TYPES) checks.push({ key: name, expected: value, expr: name, ifdef: name, required: true });
for (const [name, value] of Object.entries({
  METHOD_BUFFERED: 0,
  METHOD_IN_DIRECT: 1,
  METHOD_OUT_DIRECT: 2,
  METHOD_NEITHER: 3,
  FILE_ANY_ACCESS: 0,
  FILE_READ_ACCESS: 1,
  FILE_WRITE_ACCESS: 2,
})) {
  checks.push({ key: name, expected: value, expr: name, ifdef: name, required: true });
}
for (const [name, value] of Object.entries(NTSTATUS))
  checks.push({ key: name, expected: value, expr: `(DWORD)(${name})`, ifdef: name, required: true });
for (const [name, value] of Object.entries(WIN32_ERROR))
  checks.push({ key: name, expected: value, expr: `(DWORD)(${name})`, ifdef: name, required: true });
const layout: Array<[string, number, string]> = [
  ["sizeof(FILE_MAKE_COMPATIBLE_BUFFER)", FILE_MAKE_COMPATIBLE_BUFFER_SIZE, "sizeof(FILE_MAKE_COMPATIBLE_BUFFER)"],
  ["sizeof(FILE_SET_DEFECT_MGMT_BUFFER)", FILE_SET_DEFECT_MGMT_BUFFER_SIZE, "sizeof(FILE_SET_DEFECT_MGMT_BUFFER)"],
  ["sizeof(USN)", USN_SIZE, "sizeof(USN)"],
  ["sizeof(PREVENT_MEDIA_REMOVAL)", 1, "sizeof(PREVENT_MEDIA_REMOVAL)"],
  ["sizeof(SCSI_PASS_THROUGH)", SCSI_PASS_THROUGH_SIZE, "sizeof(SCSI_PASS_THROUGH)"],
  ...Object.entries(SCSI_PASS_THROUGH_OFFSETS).map(
    ([field, off]) => [`offsetof(SCSI_PASS_THROUGH, ${field})`, off, `offsetof(SCSI_PASS_THROUGH, ${field})`] as [string, number, string],
  ),
];
for (const [key, expected, expr] of layout) checks.push({ key, expected, expr, required: true });

function cProgram(includeGen: boolean): string {
  const lines = [
    "/* generated by test/catalog.headers.test.ts */",
    "#define WIN32_NO_STATUS",
    "#include <windows.h>",
    "#undef WIN32_NO_STATUS",
    "#include <ntstatus.h>",
    "#include <winioctl.h>",
    "#include <ntddstor.h>",
    "#include <ntddcdrm.h>",
    "#include <ntddscsi.h>",
    "#include <ntddcdvd.h>",
    "#include <ntdddisk.h>",
    "#include <ddk/mountmgr.h>",
    "#include <ddk/mountdev.h>",
    "#include <stddef.h>",
    "#include <stdio.h>",
    includeGen ? '#include "cdfilter_ioctl.h"' : "",
    "int main(void) {",
  ];
  for (const c of checks) {
    const print = `  printf("%s=%lu\\n", "${c.key}", (unsigned long)(${c.expr}));`;
    if (c.ifdef) lines.push(`#ifdef ${c.ifdef}`, print, "#else", `  printf("%s=MISSING\\n", "${c.key}");`, "#endif");
    else lines.push(print);
  }
  lines.push('  printf("END\\n");', "  return 0;", "}", "");
  return lines.join("\n");
}

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv, stdoutFile?: string): void {
  let fd: number | undefined;
  try {
    if (stdoutFile) fd = openSync(stdoutFile, "w");
    const r = spawnSync(cmd, args, {
      env: { ...process.env, ...env },
      stdio: ["ignore", fd ?? "pipe", fd ?? "pipe"],
      timeout: 240_000,
      encoding: "utf8",
    });
    if (r.status !== 0) {
      throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr ?? ""}${r.stdout ?? ""}`);
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The compiler's own include directories with a ddk/ subdirectory (mountdev.h includes
 * <mountmgr.h> from ddk/ without the prefix, so ddk/ goes on the search path after them). */
function ddkDirs(): string[] {
  const r = spawnSync("x86_64-w64-mingw32-gcc", ["-xc", "-E", "-v", "-"], { input: "", encoding: "utf8" });
  const text = `${r.stderr ?? ""}`;
  const start = text.indexOf("#include <...> search starts here:");
  const end = text.indexOf("End of search list.");
  if (start < 0 || end < 0) return [];
  return text
    .slice(start, end)
    .split("\n")
    .slice(1)
    .map((l) => l.trim())
    .filter((d) => d !== "" && existsSync(join(d, "ddk", "mountmgr.h")))
    .map((d) => join(d, "ddk"));
}

function compileAndRun(): Map<string, string> {
  mkdirSync(OUT, { recursive: true });
  const includeGen = existsSync(GEN_IOCTL_H);
  const src = join(OUT, "check.c");
  const exe = join(OUT, "check.exe");
  const out = join(OUT, "out.txt");
  writeFileSync(src, cProgram(includeGen));
  run("x86_64-w64-mingw32-gcc", [
    "-std=c11",
    "-Wall",
    "-Werror",
    "-O0",
    `-I${join(ROOT, "driver", "core")}`,
    `-I${join(ROOT, "driver", "core", "gen")}`,
    ...ddkDirs().flatMap((d) => ["-idirafter", d]),
    "-o",
    exe,
    src,
  ]);
  const env = { WINEPREFIX: PREFIX, WINEDEBUG: "-all", WINEDLLOVERRIDES: "mscoree,mshtml=" };
  try {
    // stdout to a file, not a pipe (docs/wine.md).
    run("wine", [exe], env, out);
  } finally {
    spawnSync("wineserver", ["-k"], { env: { ...process.env, ...env }, stdio: "ignore" });
  }
  const values = new Map<string, string>();
  for (const line of readFileSync(out, "utf8").split(/\r?\n/)) {
    const eq = line.indexOf("=");
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1));
    else if (line === "END") values.set("END", "");
  }
  if (!includeGen) values.set("__no_gen__", "1");
  return values;
}

describe("catalog values against the mingw-w64 headers (compiled, run under Wine)", () => {
  const skip = missingTools.length > 0 && !CI;
  it.skipIf(skip)("every named value matches, or is documented as absent from mingw-w64", { timeout: 300_000 }, () => {
    if (missingTools.length > 0) throw new Error(`missing tools: ${missingTools.join(", ")}`);
    const values = compileAndRun();
    expect(values.has("END"), "the C program ran to the end").toBe(true);
    if (values.has("__no_gen__")) {
      if (CI) throw new Error(`${GEN_IOCTL_H} is missing: run npm run codegen`);
    }
    const problems: string[] = [];
    const documentedMissing: string[] = [];
    for (const c of checks) {
      const got = values.get(c.key);
      if (got === undefined) {
        problems.push(`${c.key}: not printed`);
      } else if (got === "MISSING") {
        if (c.key.includes(":CDF_IOCTL_") && values.has("__no_gen__")) continue;
        if (c.required) problems.push(`${c.key}: mingw-w64 does not define it and the catalog names no other source`);
        else documentedMissing.push(c.key);
      } else {
        if (!c.required && !c.key.includes(":")) {
          problems.push(`${c.key}: mingw-w64 defines it, but the catalog says it is absent (source set)`);
        }
        if (Number(got) !== c.expected) {
          problems.push(`${c.key}: header ${Number(got)} (0x${Number(got).toString(16)}), library 0x${c.expected.toString(16)}`);
        }
      }
    }
    expect(problems).toEqual([]);
    // The macros mingw-w64 lacks, each taken from the Windows SDK header the entry names.
    for (const name of documentedMissing) {
      const e = IOCTL_CATALOG.find((x) => x.name === name);
      expect(e?.source, `${name} names its source`).toMatch(/Windows SDK/);
    }
    expect(documentedMissing.sort()).toEqual(
      [
        "IOCTL_CDROM_EJECT_MEDIA",
        "IOCTL_CDROM_ENABLE_STREAMING",
        "IOCTL_CDROM_EXCLUSIVE_ACCESS",
        "IOCTL_CDROM_GET_INQUIRY_DATA",
        "IOCTL_CDROM_GET_PERFORMANCE",
        "IOCTL_CDROM_LOAD_MEDIA",
        "IOCTL_CDROM_MEDIA_REMOVAL",
        "IOCTL_CDROM_RELEASE",
        "IOCTL_CDROM_RESERVE",
        "IOCTL_CDROM_SEND_OPC_INFORMATION",
        "IOCTL_SCSI_PASS_THROUGH_DIRECT_EX",
        "IOCTL_SCSI_PASS_THROUGH_EX",
      ].sort(),
    );
  });

  it("names every code of the table of Microsoft docs, CD-ROM I/O control codes (IOCTL_CDROM_CLOSE_DOOR has no value anywhere: an alias)", () => {
    const seed = [
      "CHECK_VERIFY",
      "CLOSE_DOOR",
      "ENABLE_STREAMING",
      "EXCLUSIVE_ACCESS",
      "FIND_NEW_DEVICES",
      "GET_CONFIGURATION",
      "GET_CONTROL",
      "GET_DRIVE_GEOMETRY",
      "GET_DRIVE_GEOMETRY_EX",
      "GET_INQUIRY_DATA",
      "GET_LAST_SESSION",
      "GET_PERFORMANCE",
      "GET_VOLUME",
      "LOAD_MEDIA",
      "PAUSE_AUDIO",
      "PLAY_AUDIO_MSF",
      "RAW_READ",
      "READ_Q_CHANNEL",
      "READ_TOC",
      "READ_TOC_EX",
      "RESUME_AUDIO",
      "SEEK_AUDIO_MSF",
      "SEND_OPC_INFORMATION",
      "SET_SPEED",
      "SET_VOLUME",
      "STOP_AUDIO",
    ].map((s) => `IOCTL_CDROM_${s}`);
    const named = new Set([...IOCTL_CATALOG.map((e) => e.name), ...IOCTL_ALIASES.map((a) => a.name)]);
    expect(seed.filter((n) => !named.has(n))).toEqual([]);
    expect(IOCTL_ALIASES.find((a) => a.name === "IOCTL_CDROM_CLOSE_DOOR")?.replacedBy).toBe("IOCTL_STORAGE_LOAD_MEDIA");
  });

  it("names the codes an optical stack sees: SPT_EX, DVD, disk geometry, mount manager, volume FSCTLs", () => {
    const byCode = (code: number) => IOCTL_CATALOG.find((e) => e.code === code)?.name;
    expect(byCode(0x4d044)).toBe("IOCTL_SCSI_PASS_THROUGH_EX");
    expect(byCode(0x4d048)).toBe("IOCTL_SCSI_PASS_THROUGH_DIRECT_EX");
    expect(byCode(0x70000)).toBe("IOCTL_DISK_GET_DRIVE_GEOMETRY");
    expect(byCode(0x700a0)).toBe("IOCTL_DISK_GET_DRIVE_GEOMETRY_EX");
    expect(byCode(0x2d1400)).toBe("IOCTL_STORAGE_QUERY_PROPERTY");
    expect(byCode(0x4d0008)).toBe("IOCTL_MOUNTDEV_QUERY_DEVICE_NAME");
    expect(byCode(0x6d0030)).toBe("IOCTL_MOUNTMGR_QUERY_DOS_VOLUME_PATH");
    expect(byCode(0x90018)).toBe("FSCTL_LOCK_VOLUME");
    expect(byCode(0x90020)).toBe("FSCTL_DISMOUNT_VOLUME");
    const names = new Set(IOCTL_CATALOG.map((e) => e.name));
    for (const n of [
      "IOCTL_DVD_START_SESSION",
      "IOCTL_DVD_READ_KEY",
      "IOCTL_DVD_SEND_KEY",
      "IOCTL_DVD_END_SESSION",
      "IOCTL_DVD_SET_READ_AHEAD",
      "IOCTL_DVD_GET_REGION",
      "IOCTL_DVD_SEND_KEY2",
      "IOCTL_DVD_READ_STRUCTURE",
      "IOCTL_MOUNTDEV_QUERY_UNIQUE_ID",
      "IOCTL_MOUNTDEV_QUERY_SUGGESTED_LINK_NAME",
      "IOCTL_MOUNTDEV_LINK_CREATED",
      "IOCTL_MOUNTDEV_LINK_DELETED",
      "IOCTL_MOUNTDEV_QUERY_STABLE_GUID",
      "IOCTL_MOUNTMGR_QUERY_POINTS",
      "IOCTL_MOUNTMGR_VOLUME_ARRIVAL_NOTIFICATION",
      "FSCTL_UNLOCK_VOLUME",
      "FSCTL_IS_VOLUME_MOUNTED",
      "FSCTL_ALLOW_EXTENDED_DASD_IO",
    ])
      expect(names.has(n), n).toBe(true);
    // the groups follow the name prefixes
    expect(IOCTL_CATALOG.find((e) => e.name === "IOCTL_DVD_GET_REGION")?.group).toBe("dvd");
    expect(IOCTL_CATALOG.find((e) => e.name === "IOCTL_MOUNTDEV_LINK_CREATED")?.group).toBe("mountdev");
    expect(IOCTL_CATALOG.find((e) => e.name === "IOCTL_VOLUME_ONLINE")?.group).toBe("volume");
  });
});
