/**
 * This instance's telemetry, as the app's code sees it: the tracing port (no-op until telemetry is
 * switched on) and the instrumenter through which the Azure SDKs (Table Storage, Key Vault) report
 * each call as a dependency.
 *
 * Telemetry is started outside the app: main.cjs loads the OpenTelemetry distro (telemetry.cjs,
 * built from `otel.ts`) before it registers the functions, and only when
 * APPLICATIONINSIGHTS_CONNECTION_STRING is set; then it hands the result to `useTelemetry` before
 * the first invocation. The app's bundle holds none of OpenTelemetry: locally and in tests nothing is
 * loaded or registered.
 */
import { type Instrumenter, useInstrumenter } from '@azure/core-tracing';
import { noTracing, type Tracing } from '../core/tracing.ts';

export interface Telemetry {
  tracing: Tracing;
  /** The Azure SDKs' tracing (@azure/core-tracing) bound to OpenTelemetry. */
  azureSdkInstrumenter: Instrumenter;
}

let current: Tracing = noTracing;

/** The tracing of this instance (no-op unless `useTelemetry` was called). */
export function instanceTracing(): Tracing {
  return current;
}

/**
 * Switches the app's telemetry on. The Azure SDKs' instrumenter is set here, on the app's own copy of
 * @azure/core-tracing: the distro's require hook cannot reach a package inside a bundle.
 */
export function useTelemetry(telemetry: Telemetry): void {
  useInstrumenter(telemetry.azureSdkInstrumenter);
  current = telemetry.tracing;
}

/** Back to no telemetry (tests). The SDKs' instrumenter goes back to core-tracing's no-op one. */
export function stopTelemetry(): void {
  useInstrumenter(noopInstrumenter);
  current = noTracing;
}

const noopInstrumenter: Instrumenter = {
  startSpan: (_name, options) => ({
    span: {
      setStatus: () => {},
      setAttribute: () => {},
      end: () => {},
      recordException: () => {},
      isRecording: () => false,
      addEvent: () => {},
    },
    tracingContext: options.tracingContext ?? noContext,
  }),
  withContext: (_ctx, callback, ...args) => callback(...args),
  parseTraceparentHeader: () => undefined,
  createRequestHeaders: () => ({}),
};

const noContext = {
  setValue: () => noContext,
  getValue: () => undefined,
  deleteValue: () => noContext,
};
