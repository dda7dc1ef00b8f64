/**
 * Which Node the project runs on. Production runs Node 22 (infra/app/api.bicep: Flex Consumption),
 * the runtime oidc-provider 9 supports, so Node 22 is the supported version. Node 20 still runs the
 * local stack and the tests on a development machine that has it. There, oidc-provider's
 * "Unsupported runtime" warning on every start is true of production only if production ran Node 20,
 * which it does not: it is replaced by one line that says what is deployed.
 */
const WARNING = 'oidc-provider WARNING: Unsupported runtime';

let installed = false;

/** Filters that one warning from console.warn; `note` prints the replacement line once. */
export function noteNodeRuntime(opts: { note?: boolean } = {}): void {
  if (installed) return;
  installed = true;
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 22) return;
  const warn = console.warn.bind(console);
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes(WARNING)) return;
    warn(...args);
  };
  if (opts.note) {
    console.log(
      `Node ${process.versions.node}: fine for local development and tests; the deployed runtime is Node 22 (see README, Node).`,
    );
  }
}
