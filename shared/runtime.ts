import { loadConfig } from './config.ts';
import { createServices, type Services } from './services.ts';

export type { Services };

let current: Services | undefined;

/**
 * The services of this instance, built on first use from `process.env` (validated once: a missing
 * setting fails the first request with a logged ConfigError naming it, and the local host and
 * scripts fail at start-up). Tests and the local host install their own with `setServices`.
 */
export function getServices(): Services {
  current ??= createServices(loadConfig());
  return current;
}

export function setServices(services: Services | undefined): void {
  current = services;
}
