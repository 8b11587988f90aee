// The alignment picture of Bahdanau et al. 2015 (fig. 3) as a hand-written SVG: source tokens on the
// x axis, output tokens on the y axis, one cell per (output, source) pair shaded by its attention
// weight (white 0 → black 1), labels on both axes, the sentence as the title. No dependencies.

const escape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/** Shows a token legibly as a label: a space becomes "␣". */
const label = (t: string) => (t === ' ' ? '␣' : t);

export interface AttentionMap {
  title: string;
  source: string[];
  output: string[];
  /** `[output.length][source.length]`, each row summing to about 1. */
  weights: number[][];
}

/** The SVG document of `m`. */
export function attentionSvg(m: AttentionMap): string {
  const cell = 28;
  const charW = 7.5;
  const left = Math.ceil(Math.max(2, ...m.output.map((t) => label(t).length)) * charW) + 16;
  const top = 40 + Math.ceil(Math.max(2, ...m.source.map((t) => label(t).length)) * charW) + 8;
  // The title is 14 px monospace: about 0.6 em (8.4 px) per character.
  const width = Math.max(left + m.source.length * cell + 20, Math.ceil([...m.title].length * 8.5) + 20);
  const height = top + m.output.length * cell + 20;
  const lines: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="monospace" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="10" y="22" font-size="14" font-weight="bold">${escape(m.title)}</text>`,
  ];
  m.source.forEach((t, j) => {
    const x = left + j * cell + cell / 2 + 4;
    lines.push(`<text class="src" x="${x}" y="${top - 6}" transform="rotate(-90 ${x} ${top - 6})">${escape(label(t))}</text>`);
  });
  m.output.forEach((t, i) => {
    const y = top + i * cell;
    lines.push(`<g class="row">`);
    lines.push(`<text class="out" x="${left - 6}" y="${y + cell / 2 + 4}" text-anchor="end">${escape(label(t))}</text>`);
    m.source.forEach((_, j) => {
      const w = Math.min(1, Math.max(0, m.weights[i]?.[j] ?? 0));
      const shade = Math.round(255 * (1 - w));
      lines.push(`<rect x="${left + j * cell}" y="${y}" width="${cell}" height="${cell}" fill="rgb(${shade},${shade},${shade})" stroke="#ccc"><title>${escape(`${label(t)} ← ${label(m.source[j]!)}: ${w.toFixed(3)}`)}</title></rect>`);
    });
    lines.push(`</g>`);
  });
  lines.push('</svg>', '');
  return lines.join('\n');
}
