// Stand-in for the `@azure/functions-core` module that the Azure Functions host injects into its
// Node worker. @azure/functions calls `registerFunction(metadata, handler)` on it for every
// `app.http(...)`; the local host and the bundle test read what was registered from here.
'use strict';

globalThis.__brokerFunctionRegistrations ??= [];
const registrations = globalThis.__brokerFunctionRegistrations;
globalThis.__brokerFunctionHooks ??= [];
const hooks = globalThis.__brokerFunctionHooks;

module.exports = {
  registerFunction(metadata, callback) {
    registrations.push({ metadata, callback });
    return { dispose() {} };
  },
  setProgrammingModel() {},
  getProgrammingModel() {
    return undefined;
  },
  /** Hooks are recorded (the bundle test calls them); the local host itself never calls them. */
  registerHook(hookName, callback) {
    hooks.push({ hookName, callback });
    return { dispose() {} };
  },
  hooks,
  log() {},
  registrations,
};
