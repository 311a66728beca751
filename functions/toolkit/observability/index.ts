export * from './apiCalls';
