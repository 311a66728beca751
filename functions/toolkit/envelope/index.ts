export * from './EventEnvelope';
export * from './buildEvent';
export * from './parseEvent';
export * from './ids';
export * from './errors';
