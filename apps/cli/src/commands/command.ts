// The shape of one sub-command.
export interface Command {
  /** The word after `attend`. */
  name: string;
  /** One line: the command with its main arguments. */
  synopsis: string;
  /** One line: what it does. */
  summary: string;
  /** Runs it; resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}
