/**
 * Which adapter answers a predict. Static rules first (what each adapter can do), then observed
 * health: an exponentially weighted moving average (EWMA) of latency and error rate per adapter can
 * move calls off the direct adapter, with a periodic probe so it can earn them back.
 */
import { DspexError, ErrorCode } from '../errors.js';
import type { PredictRequest } from '../protocol/schemas.js';
import { DIRECT_MODULES, usesDspyTypes } from './direct-adapter.js';
import { AdapterName } from './types.js';

/** Tuning of the health-based part of the choice. */
export interface SelectionOptions {
  /** Weight of the newest sample in the EWMAs (0..1). @default 0.2 */
  alpha: number;
  /** Direct error-rate EWMA above which calls go to Python. @default 0.5 */
  maxErrorRate: number;
  /** Direct latency EWMA over Python's by this factor sends calls to Python. @default 4 */
  latencyFactor: number;
  /** Samples an adapter needs before its EWMAs count. @default 5 */
  minSamples: number;
  /** While direct is avoided, every n-th eligible call still probes it. @default 20 */
  probeEvery: number;
}

/** Why a call went where it went (the `reason` metric label). */
export type SelectionReason =
  | 'requested'
  | 'mock'
  | 'no_http_lm'
  | 'module'
  | 'types'
  | 'demos'
  | 'lm'
  | 'pool'
  | 'eligible'
  | 'errors'
  | 'latency'
  | 'probe';

export interface Selection {
  adapter: AdapterName;
  reason: SelectionReason;
}

/** Latency and error EWMAs of one adapter. */
export interface AdapterHealth {
  samples: number;
  latencyMs: number;
  errorRate: number;
}

/** The per-adapter EWMAs a node keeps. */
export class AdapterStats {
  private readonly health = new Map<AdapterName, AdapterHealth>();
  constructor(private readonly alpha: number) {}

  record(adapter: AdapterName, latencyMs: number, failed: boolean): void {
    const h = this.health.get(adapter);
    if (h === undefined) {
      this.health.set(adapter, { samples: 1, latencyMs, errorRate: failed ? 1 : 0 });
      return;
    }
    h.samples++;
    // Failures say little about latency; only successes move it.
    if (!failed) h.latencyMs += this.alpha * (latencyMs - h.latencyMs);
    h.errorRate += this.alpha * ((failed ? 1 : 0) - h.errorRate);
  }

  get(adapter: AdapterName): AdapterHealth | undefined {
    return this.health.get(adapter);
  }

  snapshot(): Partial<Record<AdapterName, AdapterHealth>> {
    return Object.fromEntries([...this.health].map(([k, v]) => [k, { ...v }]));
  }
}

/** What the node offers: a direct LM (and its model name), a mock. */
export interface Offer {
  directModel: string | undefined;
  mock: boolean;
}

const ADAPTERS: readonly string[] = ['auto', ...Object.values(AdapterName)];

/** `config.adapter` checked: `auto` (or absent) or an adapter name this node offers. */
export function requestedAdapter(body: PredictRequest, offer: Offer): AdapterName | undefined {
  const value = body.config?.adapter;
  if (value === undefined || value === 'auto') return undefined;
  if (typeof value !== 'string' || !ADAPTERS.includes(value)) {
    throw new DspexError(ErrorCode.BadRequest, `config.adapter: expected one of ${ADAPTERS.join(', ')}`, {
      details: { field: 'config.adapter', expected: ADAPTERS },
    });
  }
  const name = value as AdapterName;
  if (
    (name === AdapterName.Direct && offer.directModel === undefined) ||
    (name === AdapterName.Mock && !offer.mock)
  ) {
    throw new DspexError(ErrorCode.BadRequest, `config.adapter: "${name}" is not configured on this node`, {
      details: { field: 'config.adapter' },
    });
  }
  return name;
}

/** Chooses the adapter of one call. `tick` counts eligible calls, for probing. */
export function selectAdapter(
  body: PredictRequest,
  offer: Offer,
  stats: AdapterStats,
  options: SelectionOptions,
  tick: number,
): Selection {
  const requested = requestedAdapter(body, offer);
  if (requested !== undefined) return { adapter: requested, reason: 'requested' };
  if (offer.mock) return { adapter: AdapterName.Mock, reason: 'mock' };
  const python = (reason: SelectionReason): Selection => ({ adapter: AdapterName.Python, reason });
  if (offer.directModel === undefined) return python('no_http_lm');
  if (!DIRECT_MODULES.has(body.module)) return python('module');
  if (usesDspyTypes(body)) return python('types');
  if (body.demos !== undefined && body.demos.length > 0) return python('demos');
  const lm = body.config?.lm;
  if (lm !== undefined && lm !== offer.directModel) return python('lm');
  if (body.pool !== undefined && body.pool !== 'general') return python('pool');
  const direct = stats.get(AdapterName.Direct);
  if (direct !== undefined && direct.samples >= options.minSamples) {
    const probing = tick % options.probeEvery === 0;
    if (direct.errorRate > options.maxErrorRate) {
      return probing ? { adapter: AdapterName.Direct, reason: 'probe' } : python('errors');
    }
    const py = stats.get(AdapterName.Python);
    if (
      py !== undefined &&
      py.samples >= options.minSamples &&
      py.errorRate <= options.maxErrorRate &&
      direct.latencyMs > py.latencyMs * options.latencyFactor
    ) {
      return probing ? { adapter: AdapterName.Direct, reason: 'probe' } : python('latency');
    }
  }
  return { adapter: AdapterName.Direct, reason: 'eligible' };
}
