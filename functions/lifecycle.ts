/**
 * The instance's end: the Functions host calls appTerminate before it stops the worker (a scale-in,
 * a deployment), so back-channel logout retries stop cleanly and counted noise is written.
 */
import { app } from '@azure/functions';
import { shutdownServices } from '../shared/web/runtime.ts';

app.hook.appTerminate(() => shutdownServices());
