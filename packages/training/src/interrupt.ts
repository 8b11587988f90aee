// Ctrl-C handling for training (Node only): the first SIGINT aborts an AbortSignal, so `train()` stops
// after the current step and saves a checkpoint; a second SIGINT exits at once (status 130, 128 + SIGINT),
// for when the save itself hangs. `dispose()` removes the listener, restoring Node's default Ctrl-C.

export interface InterruptOptions {
  /** Printed on the first Ctrl-C; `false` for silence. */
  message?: string | false;
  /** Where the message goes. Default: stderr. */
  log?: (line: string) => void;
  /** Called on the second Ctrl-C. Default: `process.exit`. */
  exit?: (code: number) => void;
}

/** An AbortSignal that aborts on the first SIGINT; `dispose()` removes its SIGINT listener. */
export type InterruptSignal = AbortSignal & { dispose(): void };

export const DEFAULT_INTERRUPT_MESSAGE = 'interrupted: stopping after this step and saving a checkpoint (Ctrl-C again to quit now)';

/** Listens for Ctrl-C until `dispose()`; pass the result as `train()`'s `signal`. */
export function interruptSignal(options: InterruptOptions = {}): InterruptSignal {
  const controller = new AbortController();
  const message = options.message ?? DEFAULT_INTERRUPT_MESSAGE;
  const log = options.log ?? ((line: string) => void process.stderr.write(`\n${line}\n`));
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let count = 0;
  const onSigint = (): void => {
    count += 1;
    if (count === 1) {
      if (message !== false) log(message);
      controller.abort(new Error('interrupted by SIGINT'));
    } else {
      dispose();
      exit(130);
    }
  };
  const dispose = (): void => {
    process.off('SIGINT', onSigint);
  };
  process.on('SIGINT', onSigint);
  return Object.assign(controller.signal, { dispose });
}
