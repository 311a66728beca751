import type { AccessPolicy } from '../toolkit/http/access';

/** The wallet's roles: the Cognito groups of its user pool. */
export const WALLET_ROLES = ['account-holder', 'fraud-operator'] as const;

/**
 * Who may call each route of the wallet's HTTP API. Read by the stack (every route gets the JWT
 * authorizer: none is public) and by the handlers (role checks); the README's table is checked against it.
 */
export const WALLET_ACCESS = {
  'POST /accounts': { roles: ['account-holder'], rule: 'the account is the caller’s' },
  'POST /accounts/{accountId}/transactions': { roles: ['account-holder'], rule: 'only on the caller’s own account (anyone else’s: 404)' },
  'POST /accounts/{accountId}/clear': { roles: ['fraud-operator'], rule: 'recorded as cleared by the caller' },
  'GET /accounts/{accountId}': { roles: ['account-holder', 'fraud-operator'], rule: 'a holder reads only their own account (anyone else’s: 404); a fraud operator reads any' },
  'POST /transfers': { roles: ['account-holder'], rule: 'only from the caller’s own account (anyone else’s: 404)' },
  'GET /transfers/{transferId}': { roles: ['account-holder'], rule: 'only a transfer from the caller’s own account (anyone else’s: 404)' },
} as const satisfies AccessPolicy;
