/**
 * A value loaded on first use and then kept (a module `import()`, a client, a key): every caller
 * shares one load. A failed load is not kept: the next `get` tries again. `reset` drops the value
 * (e.g. after a key rotation) so the next `get` loads it anew.
 */
export class Lazy<T> {
  private value: Promise<T> | undefined;

  constructor(private readonly load: () => Promise<T>) {}

  get(): Promise<T> {
    if (!this.value) {
      const loading = this.load().catch((err: unknown) => {
        if (this.value === loading) this.value = undefined;
        throw err;
      });
      this.value = loading;
    }
    return this.value;
  }

  reset(): void {
    this.value = undefined;
  }
}
