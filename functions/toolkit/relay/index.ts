export * from './ports';
export * from './relayBatch';
export * from './relayConfig';
export * from './EventBridgeTarget';
export * from './SqsFifoTarget';
export * from './SqsDeadLetterSink';
export * from './toRelayRecord';
