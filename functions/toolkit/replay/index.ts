export * from './readEventLog';
export * from './replay';
