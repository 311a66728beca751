export * from './defineConsumer';
export * from './decodeMessage';
export * from './decideFailure';
export * from './errors';
export * from './consumerConfig';
export * from './MessageDeadLetters';
export * from './ParkedGroups';
