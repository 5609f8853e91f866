/**
 * A failure `npm start` expects and can explain: printed as what happened and how to fix it,
 * without a stack trace, and the process exits with code 1.
 */
export class StartupError extends Error {
  constructor(
    message: string,
    /** What the user can do about it. */
    readonly fix: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StartupError';
  }
}

/** The first line of an error's message, for a one-line explanation. */
export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n').find((line) => line.trim() !== '')?.trim() ?? 'unknown reason';
}
