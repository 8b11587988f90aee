// Formats the backend selection for the page: the chosen backend first, then why others were skipped.
import type { BackendSelection } from '@attend/core';

export function formatSelection(sel: BackendSelection): string {
  const lines = [`running on: ${sel.label}${sel.detail ? ` [${sel.detail}]` : ''}`];
  for (const s of sel.skipped) lines.push(`skipped ${s.label}: ${s.reason}`);
  return lines.join('\n');
}
