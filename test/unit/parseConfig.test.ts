import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { ConfigError, jsonEnv, parseConfig } from '../../functions/toolkit/config/parseConfig';
import { RELAY_ENV, RelayConfigSchema } from '../../functions/toolkit/relay/relayConfig';
import { thrownBy } from './fixtures';

const DLQ_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/outbox-relay-dlq';
const FIFO_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/barista.fifo';


describe('parseConfig', () => {
  it('returns the typed config, with defaults, from a good environment', () => {
    // arrange
    const env = {
      [RELAY_ENV.eventBusName]: 'orders',
      [RELAY_ENV.deadLetterQueueUrl]: DLQ_URL,
      [RELAY_ENV.orderedQueueUrls]: JSON.stringify([FIFO_URL]),
      [RELAY_ENV.outboxTableName]: 'orders-outbox',
      [RELAY_ENV.cursorTableName]: 'orders-relay-cursors',
      [RELAY_ENV.maxAttempts]: '7',
      UNRELATED: 'ignored',
    };

    // act
    const config = parseConfig(RelayConfigSchema, env);

    // assert
    expect(config).toEqual({
      [RELAY_ENV.eventBusName]: 'orders',
      [RELAY_ENV.deadLetterQueueUrl]: DLQ_URL,
      [RELAY_ENV.orderedQueueUrls]: [FIFO_URL],
      [RELAY_ENV.outboxTableName]: 'orders-outbox',
      [RELAY_ENV.cursorTableName]: 'orders-relay-cursors',
      [RELAY_ENV.maxAttempts]: 7,
      [RELAY_ENV.baseDelayMs]: 100,
      [RELAY_ENV.maxDelayMs]: 3000,
    });
  });

  it('lists every bad key in one ConfigError', () => {
    // arrange
    const env = {
      [RELAY_ENV.orderedQueueUrls]: '[not json',
      [RELAY_ENV.outboxTableName]: 'orders-outbox',
      [RELAY_ENV.cursorTableName]: 'orders-relay-cursors',
      [RELAY_ENV.maxAttempts]: 'many',
      [RELAY_ENV.maxDelayMs]: '0',
    };

    // act
    const error = thrownBy(() => parseConfig(RelayConfigSchema, env));

    // assert
    expect(error).toBeInstanceOf(ConfigError);
    const { issues, message, name } = error as ConfigError;
    expect(name).toBe('ConfigError');
    expect(issues.map((issue) => issue.split(':')[0])).toEqual([
      RELAY_ENV.orderedQueueUrls,
      RELAY_ENV.deadLetterQueueUrl,
      RELAY_ENV.maxAttempts,
      RELAY_ENV.maxDelayMs,
    ]);
    for (const key of [RELAY_ENV.orderedQueueUrls, RELAY_ENV.deadLetterQueueUrl, RELAY_ENV.maxAttempts, RELAY_ENV.maxDelayMs]) {
      expect(message).toContain(key);
    }
    expect(message).toContain(`${RELAY_ENV.orderedQueueUrls}: is not valid JSON`);
  });

  it('never puts the bad values in the message', () => {
    // arrange
    const secret = 'hunter2-s3cr3t';
    const env = { [RELAY_ENV.deadLetterQueueUrl]: secret, [RELAY_ENV.maxAttempts]: secret, [RELAY_ENV.orderedQueueUrls]: `["${secret}"]`, [RELAY_ENV.outboxTableName]: 't', [RELAY_ENV.cursorTableName]: 'c' };

    // act
    const error = thrownBy(() => parseConfig(RelayConfigSchema, env));

    // assert
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toHaveLength(3);
    expect((error as ConfigError).message).not.toContain(secret);
  });
});

describe('jsonEnv', () => {
  const QueueUrls = z.object({ QUEUE_URLS: jsonEnv(z.array(z.url())).default([]) });

  it('parses a JSON-encoded value and validates it', () => {
    // act
    const config = parseConfig(QueueUrls, { QUEUE_URLS: JSON.stringify([FIFO_URL, DLQ_URL]) });

    // assert
    expect(config.QUEUE_URLS).toEqual([FIFO_URL, DLQ_URL]);
  });

  it('uses the default when the variable is absent', () => {
    // act
    const config = parseConfig(QueueUrls, {});

    // assert
    expect(config.QUEUE_URLS).toEqual([]);
  });

  it('rejects a value that is not JSON', () => {
    // act
    const error = thrownBy(() => parseConfig(QueueUrls, { QUEUE_URLS: `${FIFO_URL},${DLQ_URL}` }));

    // assert
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual(['QUEUE_URLS: is not valid JSON']);
  });

  it('rejects JSON that does not match the inner schema, under the variable’s name', () => {
    // act
    const error = thrownBy(() => parseConfig(QueueUrls, { QUEUE_URLS: JSON.stringify({ url: FIFO_URL }) }));

    // assert
    expect(error).toBeInstanceOf(ConfigError);
    const { issues } = error as ConfigError;
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^QUEUE_URLS: /);
    expect(issues[0]).not.toContain(FIFO_URL);
  });
});
