import { describe, expect, it } from 'vitest';
import { newEventId, type EventEnvelope } from '../../functions/toolkit/envelope';
import { CommitTooLargeError, InvalidCommitError, planCommit, type AggregateChange, type CommitContext } from '../../functions/toolkit/outbox';
import { thrownBy } from './fixtures';

const context = (): CommitContext => ({
  source: 'test.ledger',
  now: new Date('2026-11-23T10:00:00.000Z'),
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  newId: newEventId,
});

const change = (overrides: Partial<AggregateChange> = {}): AggregateChange => ({
  id: 'l-1',
  key: { pk: 'STREAM#l-1', sk: 'HEAD' },
  expectedVersion: 4,
  state: {},
  events: [
    { type: 'test.ledger.deposited', data: { amount: 1 } },
    { type: 'test.ledger.deposited', data: { amount: 2 } },
  ],
  ...overrides,
});

describe('planCommit: AggregateChange.puts (items written unconditionally in the same transaction)', () => {
  it('computes the puts from the change’s events as committed and writes them after those events, without a condition', () => {
    // arrange
    let seen: readonly EventEnvelope[] = [];
    const puts = (events: readonly EventEnvelope[]) => {
      seen = events;
      return [{ item: { pk: 'STREAM#l-1', sk: 'SNAPSHOT', version: Number(events.at(-1)?.sequence) } }];
    };

    // act
    const plan = planCommit([change({ puts })], context());

    // assert
    expect(seen).toEqual(plan.events);
    expect(seen.map((event) => event.sequence)).toEqual(['5', '6']);
    expect(plan.writes.map((write) => write.condition.kind)).toEqual(['version', 'absent', 'absent', 'none']);
    expect(plan.writes[3]).toEqual({ item: { pk: 'STREAM#l-1', sk: 'SNAPSHOT', version: 6 }, condition: { kind: 'none' }, aggregateId: 'l-1', isEvent: false, isPut: true });
  });

  it('gives each change only its own events, and keeps a put’s table', () => {
    const seen: string[][] = [];
    const puts = (events: readonly EventEnvelope[]) => (seen.push(events.map((event) => event.subject)), [{ tableName: 'other', item: { id: events[0]!.subject } }]);
    const plan = planCommit([change({ puts }), change({ id: 'l-2', key: { pk: 'STREAM#l-2', sk: 'HEAD' }, puts })], context());
    expect(seen).toEqual([['l-1', 'l-1'], ['l-2', 'l-2']]);
    expect(plan.writes.filter((write) => write.condition.kind === 'none').map((write) => write.tableName)).toEqual(['other', 'other']);
  });

  it('counts puts towards the 100-item limit', () => {
    // 1 head + 98 events + 1 put = 100 is fine; a second put makes 101
    const events = Array.from({ length: 98 }, () => ({ type: 'test.ledger.deposited', data: { amount: 1 } }));
    const snapshot = { item: { pk: 'STREAM#l-1', sk: 'SNAPSHOT' } };
    expect(planCommit([change({ events, puts: () => [snapshot] })], context()).writes).toHaveLength(100);

    const error = thrownBy(() => planCommit([change({ events, puts: () => [snapshot, { item: { pk: 'STREAM#l-1', sk: 'OTHER' } }] })], context()));

    expect(error).toBeInstanceOf(CommitTooLargeError);
    expect((error as CommitTooLargeError).problems).toEqual(['101 items (aggregates + events + puts), at most 100 per transaction']);
  });

  it('refuses a put over 400 KB', () => {
    const error = thrownBy(() => planCommit([change({ puts: () => [{ item: { pk: 'STREAM#l-1', sk: 'SNAPSHOT', state: 'x'.repeat(401 * 1024) } }] })], context()));
    expect(error).toBeInstanceOf(CommitTooLargeError);
    expect((error as CommitTooLargeError).problems[0]).toMatch(/^an item put with aggregate l-1 is \d+ bytes, at most 409600 per item$/);
  });

  it('refuses a put on the key of another item of the commit, or without a key, listing both', () => {
    const error = thrownBy(() =>
      planCommit([change({ puts: () => [{ item: { pk: 'STREAM#l-1', sk: 'HEAD', x: 1 } }, { item: { sk: 'SNAPSHOT' } }] })], context()),
    );
    expect(error).toBeInstanceOf(InvalidCommitError);
    expect((error as InvalidCommitError).problems).toEqual([
      'an item put with aggregate l-1 has the key of another item of the commit',
      'an item put with aggregate l-1 has no string key (pk, sk)',
    ]);
  });
});
