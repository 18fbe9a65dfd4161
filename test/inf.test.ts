// driver/cdfilter.inf: the directives that make it an isolation-compliant extension INF adding
// an upper filter above cdrom.sys (docs/core.md, adoption of unseen file objects; docs: "Using an Extension INF File", "INF AddFilter
// directive", "Specifying KMDF Directives in INF Files", "INF DestinationDirs Section").
// checkInf() returns every problem it finds; the real INF must have none, and each mutation
// below must be caught, so the checks can fail.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const REPO_ROOT = join(import.meta.dirname, "..");
const INF_PATH = join(REPO_ROOT, "driver", "cdfilter.inf");

const EXTENSION_CLASS_GUID = "{e2f84ce7-8efa-411c-aa69-97454ca4cb57}";
const GUID = /^\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}$/i;
const MIN_BUILD_FOR_ADDFILTER = 18362; // Windows 10 1903

interface Entry {
  key: string | undefined; // undefined for a line without '='
  values: string[];
  line: number;
}
type Inf = Map<string, Entry[]>; // section name (lower case) -> entries

/** Strip a ';' comment that is not inside double quotes. */
function stripComment(line: string): string {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '"') quoted = !quoted;
    else if (line[i] === ";" && !quoted) return line.slice(0, i);
  }
  return line;
}

function parseInf(text: string): Inf {
  const inf: Inf = new Map();
  let current: Entry[] | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = stripComment(raw).trim();
    if (line === "") return;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      const name = (header[1] ?? "").trim().toLowerCase();
      current = inf.get(name) ?? [];
      inf.set(name, current);
      return;
    }
    if (!current) throw new Error(`line ${index + 1}: entry outside any section`);
    const eq = line.indexOf("=");
    const key = eq >= 0 ? line.slice(0, eq).trim() : undefined;
    const rhs = eq >= 0 ? line.slice(eq + 1) : line;
    current.push({ key, values: rhs.split(",").map((v) => v.trim()), line: index + 1 });
  });
  return inf;
}

function section(inf: Inf, name: string): Entry[] | undefined {
  return inf.get(name.toLowerCase());
}

function value(inf: Inf, sec: string, key: string): string[] | undefined {
  return section(inf, sec)?.find((e) => e.key?.toLowerCase() === key.toLowerCase())?.values;
}

/** Every problem found, as readable sentences; [] when the INF is right. */
function checkInf(text: string): string[] {
  const problems: string[] = [];
  const need = (ok: boolean, what: string): void => {
    if (!ok) problems.push(what);
  };
  let inf: Inf;
  try {
    inf = parseInf(text);
  } catch (e) {
    return [`unparsable: ${(e as Error).message}`];
  }
  const one = (sec: string, key: string): string | undefined => value(inf, sec, key)?.[0];

  // [Version]
  need(one("Version", "Signature") === '"$WINDOWS NT$"', "Signature must be $WINDOWS NT$");
  need(one("Version", "Class") === "Extension", "Class must be Extension");
  need(one("Version", "ClassGuid")?.toLowerCase() === EXTENSION_CLASS_GUID, "ClassGuid must be the Extension class GUID");
  const extensionId = one("Version", "ExtensionId") ?? "";
  need(GUID.test(extensionId) && !/^\{0{8}-/.test(extensionId), "ExtensionId must be a fixed, non-zero GUID");
  need(one("Version", "PnpLockdown") === "1", "PnpLockdown must be 1");
  need(/^\S+\.cat$/i.test(one("Version", "CatalogFile") ?? ""), "CatalogFile must name a .cat");
  need(value(inf, "Version", "DriverVer") !== undefined, "DriverVer must be present");
  need(value(inf, "Version", "Provider") !== undefined, "Provider must be present");

  // Files go to the driver store.
  need(one("DestinationDirs", "DefaultDestDir") === "13", "DefaultDestDir must be 13 (driver store)");
  need(section(inf, "SourceDisksFiles")?.some((e) => e.key === "cdfilter.sys") === true, "SourceDisksFiles must list cdfilter.sys");

  // [Manufacturer] -> models decorated for Windows 10 1903+ -> GenCdRom.
  const manufacturer = section(inf, "Manufacturer")?.[0]?.values ?? [];
  const modelsBase = manufacturer[0] ?? "";
  const decorations = manufacturer.slice(1);
  need(decorations.length > 0, "Manufacturer must carry a target-OS decoration");
  for (const deco of decorations) {
    const m = /^NT(\$ARCH\$|amd64|arm64)\.10\.0\.\.\.(\d+)$/i.exec(deco);
    need(
      m !== null && Number(m[2] ?? 0) >= MIN_BUILD_FOR_ADDFILTER,
      `decoration ${deco} must be NT<arch>.10.0...${MIN_BUILD_FOR_ADDFILTER} or later (AddFilter)`,
    );
    const models = section(inf, `${modelsBase}.${deco}`);
    need(models !== undefined, `models section [${modelsBase}.${deco}] is missing`);
    for (const model of models ?? []) {
      const [install = "", ...ids] = model.values;
      need(ids.length > 0 && ids.every((id) => id.toLowerCase() === "gencdrom"), "models must target the GenCdRom compatible ID only");
      const installSec = [`${install}.NT`, `${install}.NT$ARCH$`, install].find((s) => section(inf, s) !== undefined);
      need(installSec !== undefined, `install section for ${install} is missing`);
      if (installSec === undefined) continue;
      checkInstall(inf, installSec, need);
    }
  }

  // Nothing global: no class UpperFilters edit, no co-installer.
  const body = [...inf.values()]
    .flat()
    .map((e) => `${e.key ?? ""}=${e.values.join(",")}`)
    .join("\n");
  need(!/UpperFilters|LowerFilters/i.test(body), "must not write UpperFilters/LowerFilters (use AddFilter)");
  need(!/HKLM|HKEY_LOCAL_MACHINE/i.test(body), "must not write HKLM directly");
  need(![...inf.keys()].some((s) => s.endsWith(".coinstallers")), "must not have a CoInstallers section");
  need(!/WdfCoInstaller/i.test(body), "must not reference the WDF co-installer");

  // Every %token% used is defined in [Strings] (DIRIDs like %13% are numbers).
  const strings = new Set((section(inf, "Strings") ?? []).map((e) => e.key?.toLowerCase()));
  for (const [, token = ""] of body.matchAll(/%([^%\s]+)%/g)) {
    if (!/^\d+$/.test(token)) need(strings.has(token.toLowerCase()), `string %${token}% is not defined`);
  }
  return problems;
}

function checkInstall(inf: Inf, installSec: string, need: (ok: boolean, what: string) => void): void {
  const copyFiles = value(inf, installSec, "CopyFiles") ?? [];
  const copied = copyFiles.flatMap((c) => (c.startsWith("@") ? [c.slice(1)] : (section(inf, c) ?? []).map((e) => e.values[0])));
  need(copied.includes("cdfilter.sys"), `${installSec} must copy cdfilter.sys`);

  // AddFilter = cdfilter,, <section with FilterPosition = Upper>
  const addFilter = value(inf, `${installSec}.Filters`, "AddFilter");
  need(addFilter?.[0] === "cdfilter", `[${installSec}.Filters] must AddFilter the cdfilter service`);
  const filterSec = addFilter?.[2];
  need(filterSec !== undefined && value(inf, filterSec, "FilterPosition")?.[0] === "Upper", "FilterPosition must be Upper");

  // AddService = cdfilter, <flags without SPSVCINST_ASSOCSERVICE>, <section>
  const addService = value(inf, `${installSec}.Services`, "AddService");
  need(addService?.[0] === "cdfilter", `[${installSec}.Services] must add the cdfilter service`);
  const flags = Number(addService?.[1] || "0");
  need((flags & 0x2) === 0, "the filter must not be installed as the function driver (flag 0x2)");
  const svc = addService?.[2] ?? "";
  need(value(inf, svc, "ServiceType")?.[0] === "1", "ServiceType must be 1 (kernel driver)");
  need(value(inf, svc, "ServiceBinary")?.[0]?.toLowerCase() === "%13%\\cdfilter.sys", "ServiceBinary must be %13%\\cdfilter.sys");

  // [*.Wdf] KmdfService = cdfilter, <section with KmdfLibraryVersion = 1.15>
  const kmdf = value(inf, `${installSec}.Wdf`, "KmdfService");
  need(kmdf?.[0] === "cdfilter", `[${installSec}.Wdf] must name KmdfService cdfilter`);
  need(kmdf?.[1] !== undefined && value(inf, kmdf[1], "KmdfLibraryVersion")?.[0] === "1.15", "KmdfLibraryVersion must be 1.15");
}

const INF_TEXT = readFileSync(INF_PATH, "utf8");

describe("driver/cdfilter.inf", () => {
  it("is an extension INF adding cdfilter as an upper filter on GenCdRom, with nothing missing", () => {
    expect(checkInf(INF_TEXT)).toEqual([]);
  });

  it("parses sections and entries, ignoring comments outside quotes", () => {
    const inf = parseInf('[A]\nk = "x;y" ; comment\n[b]\n; only a comment\nplain.sys\n');
    expect(value(inf, "a", "K")).toEqual(['"x;y"']);
    expect(section(inf, "B")).toEqual([{ key: undefined, values: ["plain.sys"], line: 5 }]);
  });

  // Each mutation breaks one directive (anchored at line starts: the header comment names them
  // too); the check must name it.
  const mutations: Array<[string, (t: string) => string, RegExp]> = [
    ["FilterPosition Lower", (t) => t.replace(/^FilterPosition\s*=\s*Upper/m, "FilterPosition = Lower"), /FilterPosition/],
    [
      "class UpperFilters edit",
      (t) =>
        t.replace(
          "[CdFilter_CopyFiles]",
          "[CdFilter_CopyFiles]\n[X.AddReg]\nHKLM,System\\CurrentControlSet\\Control\\Class\\{4d36e965-e325-11ce-bfc1-08002be10318},UpperFilters,0x00010008,cdfilter",
        ),
      /UpperFilters/,
    ],
    ["KMDF 1.9", (t) => t.replace(/^KmdfLibraryVersion\s*=\s*1\.15/m, "KmdfLibraryVersion = 1.9"), /KmdfLibraryVersion/],
    ["PnpLockdown 0", (t) => t.replace(/^PnpLockdown\s*=\s*1/m, "PnpLockdown = 0"), /PnpLockdown/],
    ["DIRID 12", (t) => t.replace(/^DefaultDestDir\s*=\s*13/m, "DefaultDestDir = 12"), /DefaultDestDir/],
    ["Windows 10 1809 target", (t) => t.replaceAll("10.0...18362", "10.0...17763"), /decoration/],
    ["class install", (t) => t.replace(/^Class\s*=\s*Extension/m, "Class = CDROM"), /Class must be Extension/],
    [
      "function driver flag",
      (t) => t.replace(/^AddService\s*=\s*cdfilter,\s*0,/m, "AddService = cdfilter, 0x00000002,"),
      /function driver/,
    ],
    ["co-installer", (t) => t.replace("[Strings]", "[CdFilter_Install.NT.CoInstallers]\nAddReg = X\n\n[Strings]"), /CoInstallers/],
    ["undefined string", (t) => t.replace(/^DisplayName\s*=\s*%CdFilter\.ServiceDesc%/m, "DisplayName = %Nope%"), /%Nope%/],
  ];
  for (const [name, mutate, expected] of mutations) {
    it(`catches: ${name}`, () => {
      const mutated = mutate(INF_TEXT);
      expect(mutated).not.toEqual(INF_TEXT);
      expect(checkInf(mutated).join("\n")).toMatch(expected);
    });
  }
});
