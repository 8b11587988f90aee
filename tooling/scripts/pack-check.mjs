// Packs published @attend/* packages with pnpm (publishConfig applied), installs the tarballs into an
// empty folder outside the workspace with npm, and imports them under plain Node ESM: what a user
// of the npm packages gets. Usage: node tooling/scripts/pack-check.mjs [package-dir …]
// (default: every folder under packages/). Needs `pnpm build` first.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');
const dirs = process.argv.slice(2).length
  ? process.argv.slice(2)
  : readdirSync(join(root, 'packages')).filter((d) => existsSync(join(root, 'packages', d, 'package.json'))).map((d) => `packages/${d}`);
const work = mkdtempSync(join(tmpdir(), 'attend-pack-'));
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
try {
  const tarballs = [];
  const names = [];
  for (const d of dirs) {
    const pkg = JSON.parse(readFileSync(join(root, d, 'package.json'), 'utf8'));
    run('pnpm', ['pack', '--pack-destination', work], join(root, d));
    const tgz = readdirSync(work).find((f) => f.startsWith(pkg.name.replace('@', '').replace('/', '-')) && f.endsWith('.tgz'));
    tarballs.push(join(work, tgz));
    names.push(pkg.name);
  }
  const app = join(work, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'pack-check', private: true, type: 'module' }));
  run('npm', ['install', '--no-audit', '--no-fund', ...tarballs, '@tensorflow/tfjs-core@4.22.0', '@tensorflow/tfjs-backend-cpu@4.22.0', '@tensorflow/tfjs-backend-wasm@4.22.0'], app);
  const imports = names.map((n, i) => `import * as m${i} from '${n}';`).join('\n');
  writeFileSync(
    join(app, 'check.mjs'),
    `${imports}
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@attend/core/node';
const sel = await selectBackend({ log: false });
const g = tf.grad((x) => tf.sum(tf.mul(x, x)))(tf.tensor1d([1, 2, 3]));
const got = Array.from(g.dataSync());
if (got.join() !== '2,4,6') throw new Error('gradient check failed: ' + got);
console.log('pack-check: imported ${names.join(', ')} under plain Node ESM; backend ' + sel.name + '; grad ok; exports: ' + [${names.map((_, i) => `Object.keys(m${i}).length`).join(', ')}].join('/'));
`,
  );
  process.stdout.write(run('node', ['check.mjs'], app));
} finally {
  rmSync(work, { recursive: true, force: true });
}
