// Flags of `attend lab gradients`, their defaults, and how they become a typed config.
import { intFlag, numFlag, UsageError, type Options, type Values } from '../args.js';
import { BACKEND_FLAG, BACKEND_HELP } from '../lib/backend.js';
import { DEFAULT_GRADIENT_LAB, EXPLODE_ABOVE, VANISH_BELOW, type GradientLabConfig } from './gradients.js';

export const GRADIENTS_FLAGS = {
  input: { type: 'string' },
  hidden: { type: 'string' },
  length: { type: 'string' },
  batch: { type: 'string' },
  seed: { type: 'string' },
  gain: { type: 'string' },
  'gru-update-bias': { type: 'string' },
  clip: { type: 'string' },
  out: { type: 'string' },
  ...BACKEND_FLAG,
} as const satisfies Options;

export const DEFAULT_GRADIENTS_OUT = 'runs/lab-gradients';

const D = DEFAULT_GRADIENT_LAB;

export const GRADIENTS_HELP = `Usage: attend lab gradients [options]

Why plain RNNs fail, measured. Trains nothing: builds a vanilla RNN (tanh), a vanilla RNN (relu),
an LSTM and a GRU of the same sizes, runs each over the same random inputs x_t ~ N(0, 1), takes a
loss on the LAST step only, L = Σ_b w·h_T (w a fixed random unit vector), and measures how much of
its gradient reaches every earlier hidden state: ‖∂L/∂h_t‖ for t = 1..T (mean over the batch of
each sequence's L2 norm; ∂L/∂h_T has norm 1 for every cell). It is read off exactly with zero
"probes" added to every h_t (for the LSTM, h only, not c).

Initialisation (the same for all four cells): every [H, H] block of the recurrent kernels
~ N(0, gain²/H), input kernels Glorot uniform, biases zero except the LSTM forget bias (1) and
the GRU update-gate bias (${D.gruUpdateBias}: keep the old state by default).
Verdicts on h_1/h_T: vanishes below ${VANISH_BELOW}, explodes above ${EXPLODE_ABOVE}, holds in between.

Sizes
  --input D          input features (default ${D.inputSize})
  --hidden H         hidden units (default ${D.hidden})
  --length T         timesteps (default ${D.length})
  --batch B          sequences averaged over (default ${D.batch})
Initialisation
  --gain G           recurrent weights ~ N(0, G²/H) (default ${D.gain}: tanh vanishes and relu explodes
                     for most seeds; below ~1.5 relu rarely explodes, above ~1.7 tanh stops vanishing)
  --gru-update-bias B  bias of the GRU's update gate z (default ${D.gruUpdateBias}, z ≈ 0.05: carry the old
                     state, as chrono initialisation for ~100-step dependencies); 0 = gates half open
  --seed N           seed of the inputs, the loss weights and every weight (default ${D.seed})
Clipping
  --clip X           also show global-norm clipping to X: each cell's ∂L/∂h_t, all t together, are
                     scaled by min(1, X / their global norm) (dashed lines, <cell>_clipped columns),
                     and ‖∂L/∂W_h‖ of the recurrent kernel is printed before and after clipping it
                     to X by its own norm (default: off)
Output
  --out DIR          where gradients.csv and gradients.svg go; existing ones are replaced
                     (default ${DEFAULT_GRADIENTS_OUT})
${BACKEND_HELP}

Examples
  attend lab gradients
  attend lab gradients --clip 1
  attend lab gradients --gain 1 --length 200 --out runs/lab-gain1`;

/** Turns flag values into the lab's config and output directory; every bad value is a UsageError naming the flag. */
export function gradientsSettings(v: Values): { config: GradientLabConfig; out: string } {
  const gain = numFlag('gain', v.gain, D.gain, 0);
  if (gain === 0) throw new UsageError('--gain: expected a number > 0, got "0"');
  if (v.out !== undefined && String(v.out).trim() === '') throw new UsageError('--out: expected a directory, got ""');
  return {
    config: {
      inputSize: intFlag('input', v.input, D.inputSize),
      hidden: intFlag('hidden', v.hidden, D.hidden),
      length: intFlag('length', v.length, D.length),
      batch: intFlag('batch', v.batch, D.batch),
      seed: intFlag('seed', v.seed, D.seed, 0),
      gain,
      gruUpdateBias: numFlag('gru-update-bias', v['gru-update-bias'], D.gruUpdateBias),
      clip: numFlag('clip', v.clip, D.clip, 0),
    },
    out: v.out === undefined ? DEFAULT_GRADIENTS_OUT : String(v.out),
  };
}
