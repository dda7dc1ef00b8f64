// Keeps test output readable: log lines are dropped unless BROKER_TEST_LOGS=1. Tests that search
// logs (canaries, redaction) capture them with captureLogs(), which replaces this sink.
import { noteNodeRuntime } from '../scripts/node-runtime.ts';
import { setLogSink } from '../shared/core/log.ts';

// oidc-provider's Node 20 warning says nothing a test run needs (README, Node).
noteNodeRuntime();

if (process.env.BROKER_TEST_LOGS !== '1') setLogSink(() => {});
