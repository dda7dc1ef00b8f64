import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, requiredSettingNames } from '../../shared/core/config.ts';

const valid = {
  BROKER_PUBLIC_BASE_URL: 'https://func-broker.azurewebsites.net/',
  BROKER_TABLE_ENDPOINT: 'https://stbroker.table.core.windows.net',
  BROKER_KEY_VAULT_URI: 'https://kv-broker.vault.azure.net/',
};

describe('configuration', () => {
  it('accepts a production configuration and normalises URLs', () => {
    const c = loadConfig(valid);
    expect(c.BROKER_PUBLIC_BASE_URL).toBe('https://func-broker.azurewebsites.net');
    expect(c.BROKER_KEY_VAULT_URI).toBe('https://kv-broker.vault.azure.net');
    expect(c.BROKER_DEV_CREDENTIALS).toBe(false);
    expect(c.BROKER_PRODUCT_NAME).toBe('Identity Broker');
  });

  it('names every missing setting in one error', () => {
    let error: unknown;
    try {
      loadConfig({});
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ['BROKER_PUBLIC_BASE_URL', 'BROKER_TABLE_ENDPOINT', 'BROKER_KEY_VAULT_URI']) {
      expect(message).toContain(`${name} is missing`);
    }
  });

  it('names an invalid setting and says why', () => {
    expect(() => loadConfig({ ...valid, BROKER_KEY_VAULT_URI: 'http://kv.example' })).toThrow(
      /BROKER_KEY_VAULT_URI is invalid: must be an https URL/,
    );
    expect(() => loadConfig({ ...valid, BROKER_PUBLIC_BASE_URL: 'http://broker.example' })).toThrow(
      /BROKER_PUBLIC_BASE_URL is invalid/,
    );
    expect(() => loadConfig({ ...valid, AZURE_CLIENT_ID: 'not-a-guid' })).toThrow(
      /AZURE_CLIENT_ID is invalid/,
    );
  });

  it('refuses development credentials unless every endpoint is local', () => {
    expect(() => loadConfig({ ...valid, BROKER_DEV_CREDENTIALS: 'true' })).toThrow(
      /BROKER_TABLE_ENDPOINT is invalid: BROKER_DEV_CREDENTIALS is only allowed/,
    );
    const local = loadConfig({
      BROKER_PUBLIC_BASE_URL: 'http://localhost:7071',
      BROKER_TABLE_ENDPOINT: 'http://127.0.0.1:10002/devstoreaccount1',
      BROKER_KEY_VAULT_URI: 'https://localhost:7444',
      BROKER_DEV_CREDENTIALS: 'true',
    });
    expect(local.BROKER_DEV_CREDENTIALS).toBe(true);
  });

  it('lists the settings a deployment must set', () => {
    expect(requiredSettingNames()).toEqual([
      'BROKER_KEY_VAULT_URI',
      'BROKER_PUBLIC_BASE_URL',
      'BROKER_TABLE_ENDPOINT',
    ]);
  });
});
