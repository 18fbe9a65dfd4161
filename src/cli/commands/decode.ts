/**
 * `decode CODE...`: split a control code into its CTL_CODE fields (device type, function,
 * method, access) and name it from the IOCTL catalog (src/client/catalog.ts). Works offline:
 * no transport is opened.
 */
import type { Command } from "commander";
import { IOCTL_CATALOG, NTSTATUS, decodeIoctl, hex32, parseIoctl } from "../../client/index.ts";
import { usageError } from "../errors.ts";
import { type GlobalOptions, makeOutput } from "../context.ts";
import { renderTable } from "../output.ts";

export function registerDecode(program: Command, globals: () => GlobalOptions): void {
  program
    .command("decode")
    .description("decode IOCTL codes: device type, function, method, access and name (no driver needed)")
    .argument("[codes...]", "0x2D4808, 2967560 or a name such as IOCTL_STORAGE_EJECT_MEDIA / storage_eject_media")
    .option("--list", "list every code the catalog names")
    .option("--statuses", "list the NTSTATUS names scenarios may use")
    .action((codes: string[], o: { list?: boolean; statuses?: boolean }) => {
      const out = makeOutput(globals());
      if (o.statuses) {
        const rows = Object.entries(NTSTATUS).map(([name, v]) => [name, hex32(v)]);
        if (out.json) out.jsonDoc(Object.fromEntries(rows));
        else out.line(renderTable(["NTSTATUS", "value"], rows, out.c));
        return;
      }
      let values: number[];
      if (o.list) {
        values = IOCTL_CATALOG.map((e) => e.code);
      } else {
        if (codes.length === 0)
          throw usageError("decode needs at least one code", "cdfilter decode 0x2D4808 IOCTL_STORAGE_EJECTION_CONTROL (or --list)");
        values = codes.map((t) => {
          const n = t.trim();
          // A number, but not a 32-bit one: say so rather than "unknown control code".
          const big = /^0x[0-9a-f]+$/i.test(n) ? BigInt(n) : /^\d+$/.test(n) ? BigInt(n) : undefined;
          if (big !== undefined && big > 0xffff_ffffn) {
            throw usageError(
              `control code ${n} is outside 32 bits (a CTL_CODE is 32 bits: at most 0xFFFFFFFF = 4294967295)`,
              "give the code as DeviceIoControl takes it, e.g. 0x2D4808",
            );
          }
          try {
            return parseIoctl(t);
          } catch (e) {
            throw usageError((e as Error).message, "run `cdfilter decode --list` for the names the catalog knows");
          }
        });
      }
      const decoded = values.map(decodeIoctl);
      if (out.json) {
        out.jsonDoc(
          decoded.map((d) => ({
            code: d.code,
            hex: d.hex,
            name: d.entry?.name ?? null,
            deviceType: d.deviceType,
            deviceTypeName: d.deviceTypeName,
            customDeviceType: d.customDeviceType,
            function: d.function,
            customFunction: d.customFunction,
            method: d.method,
            methodName: d.methodName,
            access: d.access,
            accessName: d.accessName,
            header: d.entry?.header ?? null,
            description: d.entry?.description ?? null,
          })),
        );
        return;
      }
      const c = out.c;
      out.line(
        renderTable(
          ["code", "name", "device type", "function", "method", "access"],
          decoded.map((d) => [
            d.hex,
            d.entry ? c.bold(d.entry.name) : c.dim("(not in the catalog)"),
            d.deviceTypeName.startsWith("FILE_DEVICE_")
              ? `${d.deviceTypeName} (0x${d.deviceType.toString(16).toUpperCase()})`
              : d.deviceTypeName,
            `0x${d.function.toString(16).toUpperCase().padStart(3, "0")}${d.customFunction ? " (vendor)" : ""}`,
            d.methodName,
            d.accessName,
          ]),
          c,
        ),
      );
      if (!o.list && decoded.length === 1 && decoded[0]!.entry) {
        const e = decoded[0]!.entry;
        out.line(c.dim(`${e.header}: ${e.description}`));
      }
    });
}
