import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** True when the process runs; a zombie (exited, not yet reaped by its parent) counts as dead. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state letter follows the parenthesised command name.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Pids of live processes whose command line contains `needle`. */
export function pidsMatching(needle: string): number[] {
  return execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(needle) && !line.includes('<defunct>'))
    .map((line) => Number(line.trim().split(/\s+/)[0]))
    .filter(alive);
}
