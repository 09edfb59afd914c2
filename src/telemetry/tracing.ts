/**
 * OpenTelemetry tracing for a node: a no-op unless an OTLP endpoint is configured (the standard
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`, or the `endpoint` option),
 * in which case spans are exported over OTLP/HTTP in protobuf (the spec's default protocol, and the
 * one the Python worker's exporter speaks). The SDK is imported only when enabled, so a node without
 * tracing pays nothing for it.
 */
import { trace, type Tracer } from '@opentelemetry/api';

export interface TracingOptions {
  /**
   * OTLP/HTTP base URL (`/v1/traces` is appended), e.g. `http://localhost:4318`.
   * @default env `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is), else `OTEL_EXPORTER_OTLP_ENDPOINT`
   */
  endpoint?: string;
  /** `service.name` of the spans. @default env `OTEL_SERVICE_NAME`, else `'dspex-node'` */
  serviceName?: string;
  /** More resource attributes (e.g. `{ 'service.instance.id': nodeId }`). */
  attributes?: Record<string, string>;
  /**
   * Register as the process-wide tracer provider (with an AsyncLocalStorage context manager and the
   * W3C propagator). Turn off when the embedding application runs its own OpenTelemetry SDK.
   * @default true
   */
  global?: boolean;
  /** Export each span as it ends (tests) instead of in batches. @default false */
  immediate?: boolean;
}

export interface Tracing {
  /** False when no endpoint is configured: `tracer` then makes non-recording spans. */
  readonly enabled: boolean;
  /** The full URL spans are posted to, when enabled. */
  readonly url: string | undefined;
  readonly tracer: Tracer;
  /** Exports the spans that ended so far. */
  flush(): Promise<void>;
  /** Flushes and stops exporting. */
  shutdown(): Promise<void>;
}

/** The traces URL from options and the environment, or undefined (tracing off). */
export function tracesUrl(
  options: TracingOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (env.OTEL_SDK_DISABLED?.toLowerCase() === 'true') return undefined;
  const base = options.endpoint ?? nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (options.endpoint === undefined && nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) !== undefined) {
    return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  }
  return base === undefined ? undefined : `${base.replace(/\/+$/, '')}/v1/traces`;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/**
 * Starts tracing as configured.
 *
 * @example
 * ```ts
 * const tracing = await startTracing({ attributes: { 'service.instance.id': rt.nodeId } });
 * tracing.tracer.startActiveSpan('dspex.node.route', (span) => { ...; span.end(); });
 * await tracing.shutdown();
 * ```
 */
export async function startTracing(
  options: TracingOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<Tracing> {
  const url = tracesUrl(options, env);
  if (url === undefined) {
    return {
      enabled: false,
      url: undefined,
      tracer: trace.getTracer('dspex'),
      flush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
  }
  const [
    { NodeTracerProvider, BatchSpanProcessor, SimpleSpanProcessor },
    { OTLPTraceExporter },
    { resourceFromAttributes },
  ] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/exporter-trace-otlp-proto'),
    import('@opentelemetry/resources'),
  ]);
  const exporter = new OTLPTraceExporter({ url });
  const processor = options.immediate ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      'service.name': options.serviceName ?? nonEmpty(env.OTEL_SERVICE_NAME) ?? 'dspex-node',
      ...options.attributes,
    }),
    spanProcessors: [processor],
  });
  if (options.global ?? true) provider.register();
  return {
    enabled: true,
    url,
    tracer: provider.getTracer('dspex'),
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
