/**
 * Exit codes and the one error type the command line reports.
 *
 * Every failure the user can act on becomes a CliError: one line saying what went wrong and a
 * hint saying what to do, plus the exit code below. main.ts prints it on stderr as
 * `cdfilter: <message>` then `hint: <hint>`, or with --json as one JSON object on one line,
 * `{"error":{"message","hint","exitCode"}}` (main.ts, reportError).
 */

/** Documented exit codes (docs/cli.md, "Exit codes"). */
export const ExitCode = {
  /** Everything ran and every check passed. */
  OK: 0,
  /** The command ran but its result is a failure: an audit verdict failed, or a QA action
   * (lock/unlock/eject) completed with an error NTSTATUS. */
  CHECK_FAILED: 1,
  /** Bad command line: unknown command or option, missing or malformed argument. */
  USAGE: 2,
  /** Bad input file: a scenario or recorded trace that cannot be parsed or validated. */
  BAD_INPUT: 3,
  /** No filter reachable: the transport could not be opened or speaks another protocol. */
  UNAVAILABLE: 4,
  /** A bug or an unexpected failure (stack trace with CDFILTER_DEBUG=1). */
  INTERNAL: 5,
  /** An output file (report, trace, Chrome export) could not be written: the command's work
   * was done, its result could not be saved. */
  OUTPUT_FAILED: 6,
  /** Interrupted by SIGINT (Ctrl-C) before finishing. */
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export function usageError(message: string, hint?: string): CliError {
  return new CliError(message, ExitCode.USAGE, hint);
}

export function inputError(message: string, hint?: string): CliError {
  return new CliError(message, ExitCode.BAD_INPUT, hint);
}
