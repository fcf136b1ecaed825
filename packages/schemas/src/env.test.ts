import { describe, expect, it } from 'vitest';
import { ConfigError, parseEnvConfig, SECRET_VARIABLES } from './env.js';

describe('the environment schema', () => {
  it('gives every variable its default, keeping the old script names', () => {
    const config = parseEnvConfig({});
    expect(config).toMatchObject({
      PORT: 3000,
      DATABASE_PATH: './data/dashboard.duckdb',
      BACKUP_DIR: './backups',
      MAX_BATCH_RECORDS: 10_000,
      MAX_BODY_BYTES: 10 * 1024 * 1024,
      BACKUP_RETENTION_DAYS: 30,
      SCHEDULE_SALES_SYNC: '0 2 * * *',
      SCHEDULE_TZ: 'UTC',
      LOG_LEVEL: 'info',
    });
  });

  it('takes the old LOG_LEVEL=INFO spelling', () => {
    expect(parseEnvConfig({ LOG_LEVEL: 'INFO' }).LOG_LEVEL).toBe('info');
    expect(parseEnvConfig({ LOG_LEVEL: 'WARNING' }).LOG_LEVEL).toBe('warn');
  });

  it('stops on a bad value with a message naming each bad variable, never showing a secret', () => {
    const bad = () =>
      parseEnvConfig({
        PORT: 'eighty',
        SCHEDULE_TZ: 'Mars/Olympus',
        SCHEDULE_BACKUP: 'every night',
        SLACK_WEBHOOK: 'secret-not-a-url',
      });
    expect(bad).toThrow(ConfigError);
    const message = (() => {
      try {
        bad();
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })();
    expect(message).toMatch(/PORT="eighty"/);
    expect(message).toMatch(/SCHEDULE_TZ="Mars\/Olympus": must be an IANA time zone/);
    expect(message).toMatch(/SCHEDULE_BACKUP="every night": must be a cron expression/);
    expect(message).toMatch(/SLACK_WEBHOOK=\(hidden\)/);
    expect(message).not.toMatch(/secret-not-a-url/);
  });

  it('reads an empty number variable as its default, not 0', () => {
    expect(parseEnvConfig({ PORT: '', MAX_BATCH_RECORDS: ' ' })).toMatchObject({
      PORT: 3000,
      MAX_BATCH_RECORDS: 10_000,
    });
  });

  it('lets a schedule be switched off', () => {
    expect(parseEnvConfig({ SCHEDULE_VERIFY_BACKUP: 'off' }).SCHEDULE_VERIFY_BACKUP).toBe('off');
  });

  it('leaves directory sign-in off unless LDAP_SERVER is set, and names what it is missing', () => {
    expect(parseEnvConfig({}).LDAP_SERVER).toBeUndefined();
    const ldap = {
      LDAP_SERVER: 'ldap://127.0.0.1:389',
      LDAP_BASE_DN: 'dc=x',
      LDAP_OPERATOR_GROUP: 'cn=g,dc=x',
    };
    expect(parseEnvConfig(ldap)).toMatchObject({ LDAP_STARTTLS: false, LOGIN_MAX_FAILURES: 5 });
    expect(() => parseEnvConfig({ ...ldap, LDAP_SERVER: 'http://127.0.0.1' })).toThrow(
      /LDAP_SERVER=.*ldap:\/\/ or ldaps:\/\//,
    );
    expect(() => parseEnvConfig({ LDAP_SERVER: 'ldap://127.0.0.1' })).toThrow(
      /LDAP_BASE_DN.*LDAP_OPERATOR_GROUP/,
    );
    expect(() => parseEnvConfig({ ...ldap, LDAP_SERVER: 'ldaps://h', LDAP_STARTTLS: 'true' })).toThrow(
      /LDAP_STARTTLS/,
    );
    expect(() => parseEnvConfig({ ...ldap, LDAP_USER: 'cn=svc,dc=x' })).toThrow(
      /LDAP_PASSWORD=\(hidden\).*anonymously/,
    );
    expect(() => parseEnvConfig({ ...ldap, LDAP_USER_FILTER: '(uid=x)' })).toThrow(/\{\{username\}\}/);
  });

  it('counts the directory service password among the values never shown', () => {
    expect(SECRET_VARIABLES.has('LDAP_PASSWORD')).toBe(true);
  });
});
