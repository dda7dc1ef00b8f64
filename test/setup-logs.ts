// Keeps test output readable: log lines are dropped unless BROKER_TEST_LOGS=1. Tests that search
// logs (canaries, redaction) capture them with captureLogs(), which replaces this sink.
import { setLogSink } from '../shared/core/log.ts';

if (process.env.BROKER_TEST_LOGS !== '1') setLogSink(() => {});
