/**
 * Registers every function of the app. Each file below calls `app.http(...)` for its routes;
 * the Azure Functions host, the local host (scripts/host) and the bundle test all load this file,
 * so a route is defined in one place only.
 */
import './health.ts';
import './tokens.ts';
