export * from './redrive';
export * from './discoverDeadLetterQueues';
export * from './peekMessages';
