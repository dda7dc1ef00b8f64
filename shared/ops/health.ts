import type { TableClient } from '@azure/data-tables';
import type { SecretClient } from '@azure/keyvault-secrets';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/log.ts';

export type CheckStatus = 'ok' | 'failing';

export interface HealthReport {
  status: 'ok' | 'degraded';
  checks: { tables: CheckStatus; secrets: CheckStatus };
  warnings: HealthWarning[];
}

export interface HealthWarning {
  code: string;
  message: string;
  [key: string]: unknown;
}

/** Adds warnings to the report (e.g. client secrets about to expire); must not throw for a healthy store. */
export type WarningSource = () => Promise<HealthWarning[]>;

const CHECK_TIMEOUT_MS = 3000;
/** Health is anonymous: answers are cached per instance so it cannot be used to hammer storage or Key Vault. */
const CACHE_MS = 5000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

export class HealthService {
  private cached?: { at: number; report: HealthReport };
  private readonly warningSources: WarningSource[] = [];

  constructor(
    private readonly probeTable: TableClient,
    private readonly secrets: SecretClient,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  addWarningSource(source: WarningSource): void {
    this.warningSources.push(source);
  }

  async report(): Promise<HealthReport> {
    const now = this.clock.now();
    if (this.cached && now - this.cached.at < CACHE_MS) return this.cached.report;
    const [tables, secrets] = await Promise.all([this.checkTables(), this.checkSecrets()]);
    const warnings: HealthWarning[] = [];
    if (tables === 'ok' && secrets === 'ok') {
      for (const source of this.warningSources) {
        try {
          warnings.push(...(await withTimeout(source(), CHECK_TIMEOUT_MS)));
        } catch (err) {
          this.log.warn('health.warning_source_failed', { error: err });
        }
      }
    }
    const report: HealthReport = {
      status: tables === 'ok' && secrets === 'ok' ? 'ok' : 'degraded',
      checks: { tables, secrets },
      warnings,
    };
    this.cached = { at: now, report };
    return report;
  }

  private async checkTables(): Promise<CheckStatus> {
    try {
      const pages = this.probeTable.listEntities({ queryOptions: { select: ['PartitionKey'] } }).byPage({
        maxPageSize: 1,
      });
      await withTimeout(pages.next(), CHECK_TIMEOUT_MS);
      return 'ok';
    } catch (err) {
      this.log.warn('health.tables_failing', { error: err });
      return 'failing';
    }
  }

  private async checkSecrets(): Promise<CheckStatus> {
    try {
      const pages = this.secrets.listPropertiesOfSecrets().byPage({ maxPageSize: 1 });
      await withTimeout(pages.next(), CHECK_TIMEOUT_MS);
      return 'ok';
    } catch (err) {
      this.log.warn('health.secrets_failing', { error: err });
      return 'failing';
    }
  }
}
