// Every workflow type; this file is the workflowsPath of every worker bundle.
// Deterministic code only: no I/O, no Node builtins, activities imported as types.
export * from './ingest';
export * from './training';
export * from './curation-shard';
export * from './campaign';
export * from './text';
