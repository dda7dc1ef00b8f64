import { AsyncLocalStorage } from 'node:async_hooks';
import { loadConfig } from '../core/config.ts';
import { endpointsFor } from './endpoint.ts';
import { createServices, type Services } from './services.ts';
import { instanceTracing } from './telemetry.ts';

export type { Services };

let current: Services | undefined;
const scoped = new AsyncLocalStorage<Services>();

/**
 * The services of this instance, built on first use from `process.env` (validated once: a missing
 * setting fails the first request with a logged ConfigError naming it, and the local host and
 * scripts fail at start-up). Tests and the local host install their own with `setServices`, or
 * scope them to one host with `runWithServices` (several test apps in one process).
 */
export function getServices(): Services {
  const inScope = scoped.getStore();
  if (inScope) return inScope;
  current ??= createServices(loadConfig());
  return current;
}

/**
 * Ends this instance's in-process work before it stops: back-channel logout retry timers (the
 * queue keeps their logouts for the next drain) and the anonymous-noise counts not yet written.
 * Nothing to do when no services were built.
 */
export async function shutdownServices(): Promise<void> {
  await current?.shutdown();
}

export function setServices(services: Services | undefined): void {
  current = services;
}

export function runWithServices<T>(services: Services, fn: () => Promise<T>): Promise<T> {
  return scoped.run(services, fn);
}

/** Every route of the app: `endpoint()` with this instance's services and tracing passed in. */
export const endpoint = endpointsFor({ services: getServices, tracing: instanceTracing });
