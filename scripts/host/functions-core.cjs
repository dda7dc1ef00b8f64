// Stand-in for the `@azure/functions-core` module that the Azure Functions host injects into its
// Node worker. @azure/functions calls `registerFunction(metadata, handler)` on it for every
// `app.http(...)`; the local host and the bundle test read what was registered from here.
'use strict';

globalThis.__brokerFunctionRegistrations ??= [];
const registrations = globalThis.__brokerFunctionRegistrations;

module.exports = {
  registerFunction(metadata, callback) {
    registrations.push({ metadata, callback });
    return { dispose() {} };
  },
  setProgrammingModel() {},
  getProgrammingModel() {
    return undefined;
  },
  registerHook() {
    return { dispose() {} };
  },
  log() {},
  registrations,
};
