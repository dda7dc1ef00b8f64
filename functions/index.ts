/**
 * Registers every function of the app. Each file below calls `app.http(...)` for its routes;
 * the Azure Functions host, the local host (scripts/host) and the bundle test all load this file,
 * so a route is defined in one place only.
 */
import './auth.ts';
import './health.ts';
import './tokens.ts';
import './integrations.ts';
import './applications.ts';
import './apis.ts';
import './users.ts';
import './settings.ts';
import './audit.ts';
import './openapi.ts';
import './maintenance.ts';
import './oidc.ts';
import './admin.ts';
import './favicon.ts';
import './scim.ts';
import './provisioning.ts';
