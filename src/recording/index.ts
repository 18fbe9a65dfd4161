/**
 * Recordings: durable pcapng files of the live trace (writer.ts), read back with the JSON Lines
 * form by one reader (reader.ts). docs/recording.md describes the format.
 */
export * from "./header.ts";
export * from "./pcapng.ts";
export * from "./reader.ts";
export * from "./writer.ts";
