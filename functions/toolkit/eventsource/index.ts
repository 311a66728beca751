export * from './Decider';
export * from './EventStore';
export * from './errors';
export * from './foldEvents';
export * from './streamItems';
export { ConcurrencyError, GuardFailedError } from '../outbox/errors';
