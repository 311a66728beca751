export * from './defineEventType';
export * from './defineRegistry';
export * from './errors';
export * from './jsonSchema';
export * from './checkCompatibility';
export * from './asyncApi';
export * from './olderVersionCopy';
