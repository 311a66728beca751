export * from './Outbox';
export * from './planCommit';
export * from './outboxItem';
export * from './errors';
export * from './outboxConfig';
export * from './readAggregate';
export * from './transactWrite';
