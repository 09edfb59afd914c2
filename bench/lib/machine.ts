/** What a result was measured on: printed beside every table and stored with every result file. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

/** The project's Python (the worker venv's interpreter), else `python3` from PATH. */
export function pythonBin(root: string): string {
  const venv = join(root, 'python', '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

export interface MachineInfo {
  os: string;
  cpu_model: string;
  cpu_count: number;
  total_mem_gib: number;
  node: string;
  python: string;
}

export function machineInfo(root: string): MachineInfo {
  const cpus = os.cpus();
  const py = spawnSync(pythonBin(root), ['--version'], { encoding: 'utf8' });
  const python = py.status === 0 ? `${py.stdout}${py.stderr}`.trim().replace(/^Python /, '') : 'unavailable';
  return {
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu_model: cpus[0]?.model.trim() ?? 'unknown',
    cpu_count: cpus.length,
    total_mem_gib: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    python,
  };
}

/** One line, e.g. `Linux 6.1 x64 · 2 × Intel Xeon … · 23.5 GiB · Node v20.19.0 · Python 3.11.7`. */
export function machineLine(m: MachineInfo): string {
  return `${m.os} · ${m.cpu_count} × ${m.cpu_model} · ${m.total_mem_gib} GiB · Node ${m.node} · Python ${m.python}`;
}
