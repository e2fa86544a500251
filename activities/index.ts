// Every activity the workers register. Workflows import this module as a *type* only.
export * from './ingest';
export * from './visual';
export * from './training';
export * from './campaign';
export * from './evaluation';
export * from './models';
export * from './text';
