// Test-only: a tiny event-sourced ledger, the aggregate the event store's unit and cloud tests use.
import * as z from 'zod';
import { DomainRejection, type Decider, type EventSchemas } from '../../../functions/toolkit/eventsource';
import { personal } from '../../../functions/toolkit/privacy/personal';

export const LEDGER_SOURCE = 'test.ledger';

export const LEDGER_OPENED = 'test.ledger.opened';
export const LEDGER_DEPOSITED = 'test.ledger.deposited';
export const LEDGER_WITHDRAWN = 'test.ledger.withdrawn';

const Amount = z.number().int().positive();

export const LedgerEvents = {
  [LEDGER_OPENED]: z.object({ holder: personal(z.string().min(1)), openedAt: z.iso.datetime() }),
  [LEDGER_DEPOSITED]: z.object({ amount: Amount }),
  [LEDGER_WITHDRAWN]: z.object({ amount: Amount }),
} as const;

export type LedgerEvent =
  | { readonly type: typeof LEDGER_OPENED; readonly data: z.infer<(typeof LedgerEvents)[typeof LEDGER_OPENED]> }
  | { readonly type: typeof LEDGER_DEPOSITED; readonly data: z.infer<(typeof LedgerEvents)[typeof LEDGER_DEPOSITED]> }
  | { readonly type: typeof LEDGER_WITHDRAWN; readonly data: z.infer<(typeof LedgerEvents)[typeof LEDGER_WITHDRAWN]> };

export const LedgerEventSchemas: EventSchemas<LedgerEvent> = LedgerEvents;

export const LedgerStateSchema = z.object({
  open: z.boolean(),
  holder: z.string().nullable(),
  balance: z.number().int(),
  /** The amounts of every deposit and withdrawal, in order: a state that shows a wrong fold at once. */
  entries: z.array(z.number().int()),
});
export type LedgerState = z.infer<typeof LedgerStateSchema>;

export type LedgerCommand =
  | { readonly kind: 'open'; readonly holder: string; readonly at: string }
  | { readonly kind: 'deposit'; readonly amount: number }
  | { readonly kind: 'withdraw'; readonly amount: number };

export const ledger: Decider<LedgerCommand, LedgerState, LedgerEvent> = {
  initialState: { open: false, holder: null, balance: 0, entries: [] },
  evolve: (state, event) => {
    switch (event.type) {
      case LEDGER_OPENED:
        return { ...state, open: true, holder: event.data.holder };
      case LEDGER_DEPOSITED:
        return { ...state, balance: state.balance + event.data.amount, entries: [...state.entries, event.data.amount] };
      case LEDGER_WITHDRAWN:
        return { ...state, balance: state.balance - event.data.amount, entries: [...state.entries, -event.data.amount] };
    }
  },
  decide: (command, state) => {
    switch (command.kind) {
      case 'open':
        if (state.open) throw new DomainRejection('LedgerAlreadyOpen', 'the ledger is open already');
        return [{ type: LEDGER_OPENED, data: { holder: command.holder, openedAt: command.at } }];
      case 'deposit':
        if (!state.open) throw new DomainRejection('LedgerNotOpen', 'the ledger is not open');
        return [{ type: LEDGER_DEPOSITED, data: { amount: command.amount } }];
      case 'withdraw':
        if (!state.open) throw new DomainRejection('LedgerNotOpen', 'the ledger is not open');
        if (command.amount > state.balance) throw new DomainRejection('InsufficientFunds', `the balance is ${state.balance}, less than ${command.amount}`);
        return [{ type: LEDGER_WITHDRAWN, data: { amount: command.amount } }];
    }
  },
};
