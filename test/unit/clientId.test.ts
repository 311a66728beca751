import { describe, expect, it } from 'vitest';
import { OrderIdSchema } from '../../functions/coffee/orders/placeOrder';
import { ClientId, isClientId } from '../../functions/toolkit/http/clientId';
import { ClientId as WalletClientId } from '../../functions/wallet/schemas';

describe('ClientId: the one shape of the ids clients choose (they become keys)', () => {
  it.each(['o-1', 'acct_2026-11-23', 'A1b', 'x'.repeat(64)])('accepts %s', (id) => {
    expect(ClientId.safeParse(id).success).toBe(true);
  });

  it.each([
    ['too short', 'ab'],
    ['too long', 'x'.repeat(65)],
    ['a "#" (splits sort keys)', 'a#1'],
    ['a "/"', 'a/b'],
    ['a leading "_" (as in __proto__)', '__proto__'],
    ['a leading "-"', '-abc'],
    ['a space', 'my order'],
    ['a non-ASCII letter', 'café'],
  ])('refuses %s', (_, id) => {
    expect(ClientId.safeParse(id).success).toBe(false);
    expect(isClientId(id)).toBe(false);
  });

  it('is the schema of the wallet’s and the orders’ HTTP routes (one schema, not copies)', () => {
    expect(WalletClientId).toBe(ClientId);
    expect(OrderIdSchema).toBe(ClientId);
  });
});
