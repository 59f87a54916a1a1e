export * from './topics.ts';
export * from './payloads.ts';
export * from './decode.ts';
