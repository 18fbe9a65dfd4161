/**
 * IRP major function codes (IRP_MJ_* of wdm.h), by number, and their names without the prefix.
 * Pure (no Node API): the trace filter (src/filter/) and the web page use it too.
 */

/** IRP_MJ_* names without the prefix, indexed by the major function code (wdm.h). */
export const IRP_MJ_NAMES: readonly string[] = [
  "CREATE",
  "CREATE_NAMED_PIPE",
  "CLOSE",
  "READ",
  "WRITE",
  "QUERY_INFORMATION",
  "SET_INFORMATION",
  "QUERY_EA",
  "SET_EA",
  "FLUSH_BUFFERS",
  "QUERY_VOLUME_INFORMATION",
  "SET_VOLUME_INFORMATION",
  "DIRECTORY_CONTROL",
  "FILE_SYSTEM_CONTROL",
  "DEVICE_CONTROL",
  "INTERNAL_DEVICE_CONTROL",
  "SHUTDOWN",
  "LOCK_CONTROL",
  "CLEANUP",
  "CREATE_MAILSLOT",
  "QUERY_SECURITY",
  "SET_SECURITY",
  "POWER",
  "SYSTEM_CONTROL",
  "DEVICE_CHANGE",
  "QUERY_QUOTA",
  "SET_QUOTA",
  "PNP",
];

/** IRP_MJ_MAXIMUM_FUNCTION (wdm.h). */
export const IRP_MJ_MAXIMUM_FUNCTION = 0x1b;

/** "DEVICE_CONTROL" for 14; "0x1C" past the table. */
export function majorName(major: number): string {
  return IRP_MJ_NAMES[major] ?? `0x${major.toString(16).toUpperCase()}`;
}

/**
 * "DEVICE_CONTROL", "irp_mj_read", "read", "14" or "0xE" to an IRP_MJ_* code (0..27);
 * undefined when the text is none of these.
 */
export function majorFromText(text: string): number | undefined {
  const t = text
    .trim()
    .toUpperCase()
    .replace(/^IRP_MJ_/, "");
  let v: number | undefined;
  if (/^0X[0-9A-F]{1,2}$/.test(t)) v = Number.parseInt(t.slice(2), 16);
  else if (/^\d{1,2}$/.test(t)) v = Number(t);
  else {
    const i = IRP_MJ_NAMES.indexOf(t);
    v = i < 0 ? undefined : i;
  }
  return v !== undefined && v <= IRP_MJ_MAXIMUM_FUNCTION ? v : undefined;
}
